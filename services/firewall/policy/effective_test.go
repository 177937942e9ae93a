package policy_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/firewall/policy"
)

func TestLongNameHelper(t *testing.T) {
	for _, n := range []int{200, 252, 253, 254} {
		require.Len(t, longName(n), n)
	}
}

func TestSettingNames(t *testing.T) {
	require.Equal(t, "workspace_firewall_network_access_enabled", policy.GroupWorkspace.Setting(policy.SettingNetworkAccessEnabled))
	require.Equal(t, "browser_firewall_domain_access_mode", policy.GroupBrowser.Setting(policy.SettingDomainAccessMode))
	require.Equal(t, "browser_firewall_allowed_domains", policy.GroupBrowser.Setting(policy.SettingAllowedDomains))
	d := policy.Defaults{Workspace: []string{"w.com"}, Browser: []string{"b.com"}}
	require.Equal(t, []string{"w.com"}, d.For(policy.GroupWorkspace))
	require.Equal(t, []string{"b.com"}, d.For(policy.GroupBrowser))
	require.Nil(t, d.For("other"))
}

func TestValidate(t *testing.T) {
	got, err := policy.Validate("workspace_firewall", policy.Settings{
		NetworkAccessEnabled: true, Mode: policy.ModeAllowlist, AllowedDomains: []string{"B.com", "a.com."},
	})
	require.NoError(t, err)
	want := policy.Settings{NetworkAccessEnabled: true, Mode: policy.ModeAllowlist, AllowedDomains: []string{"a.com", "b.com"}}
	require.Empty(t, cmp.Diff(want, got))

	_, err = policy.Validate("browser_firewall", policy.Settings{Mode: ""})
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, errcode.FirewallModeInvalid, pe.Code)
	require.Equal(t, "browser_firewall_domain_access_mode", pe.Field)
	require.Equal(t, `browser_firewall_domain_access_mode "": unknown mode, want one of "allowlist", "deny", "unrestricted"`, err.Error())

	_, err = policy.Validate("browser_firewall", policy.Settings{Mode: policy.ModeDeny, AllowedDomains: []string{"ok.com", "*"}})
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "browser_firewall_allowed_domains[1]", pe.Field)
	require.Equal(t, "*", pe.Entry)
}

func TestCompute(t *testing.T) {
	got, err := policy.Compute(policy.GroupWorkspace, []string{"registry.npmjs.org", "*.PyPI.org", "api.example.com"},
		policy.Settings{NetworkAccessEnabled: true, Mode: policy.ModeAllowlist, AllowedDomains: []string{"api.example.com.", "github.com"}})
	require.NoError(t, err)
	want := policy.Effective{
		Group: policy.GroupWorkspace, NetworkAccessEnabled: true, Mode: policy.ModeAllowlist,
		AllowedDomains: []string{"*.pypi.org", "api.example.com", "github.com", "registry.npmjs.org"},
	}
	require.Empty(t, cmp.Diff(want, got))

	empty, err := policy.Compute(policy.GroupBrowser, nil, policy.Settings{Mode: policy.ModeDeny})
	require.NoError(t, err)
	require.NotNil(t, empty.AllowedDomains)

	_, err = policy.Compute("db", nil, policy.Settings{Mode: policy.ModeDeny})
	require.ErrorIs(t, err, policy.ErrInvalid)

	_, err = policy.Compute(policy.GroupBrowser, []string{"http://bad"}, policy.Settings{Mode: policy.ModeDeny})
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "defaults.browser[0]", pe.Field)

	_, err = policy.Compute(policy.GroupBrowser, nil, policy.Settings{Mode: policy.ModeDeny, AllowedDomains: []string{"1.2.3.4"}})
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "browser_firewall_allowed_domains[0]", pe.Field)
}

func TestAllows(t *testing.T) {
	allow := policy.Effective{
		Group: policy.GroupWorkspace, NetworkAccessEnabled: true, Mode: policy.ModeAllowlist,
		AllowedDomains: []string{"*.pypi.org", "apple.com", "github.com", "xn--bcher-kva.example"},
	}
	tests := []struct {
		name string
		e    policy.Effective
		host string
		want bool
	}{
		{"exact", allow, "github.com", true},
		{"exact case and trailing dot", allow, "GitHub.com.", true},
		{"exact does not match subdomain", allow, "api.github.com", false},
		{"exact does not match parent", allow, "com", false},
		{"suffix look-alike", allow, "evilgithub.com", false},
		{"wildcard matches subdomain", allow, "files.pypi.org", true},
		{"wildcard matches deep subdomain", allow, "a.b.files.pypi.org", true},
		{"wildcard never matches apex", allow, "pypi.org", false},
		{"wildcard suffix look-alike", allow, "evilpypi.org", false},
		{"cyrillic look-alike", allow, "аpple.com", false},
		{"unicode host matches punycode entry", allow, "bücher.example", true},
		{"punycode host", allow, "xn--bcher-kva.example", true},
		{"not listed", allow, "example.org", false},
		{"ip literal", allow, "1.2.3.4", false},
		{"ipv6 literal", allow, "::1", false},
		{"wildcard as host", allow, "*.pypi.org", false},
		{"empty host", allow, "", false},
		{"host with port", allow, "github.com:443", false},
		{"disabled", with(allow, func(e *policy.Effective) { e.NetworkAccessEnabled = false }), "github.com", false},
		{"deny", with(allow, func(e *policy.Effective) { e.Mode = policy.ModeDeny }), "github.com", false},
		{"unrestricted any name", with(allow, func(e *policy.Effective) { e.Mode = policy.ModeUnrestricted }), "example.org", true},
		{"unrestricted no ip", with(allow, func(e *policy.Effective) { e.Mode = policy.ModeUnrestricted }), "127.0.0.1", false},
		{"unrestricted no single label", with(allow, func(e *policy.Effective) { e.Mode = policy.ModeUnrestricted }), "localhost", false},
		{"unrestricted but disabled", policy.Effective{Mode: policy.ModeUnrestricted}, "example.org", false},
		{"unknown mode", with(allow, func(e *policy.Effective) { e.Mode = "open" }), "github.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.e.Allows(tt.host))
		})
	}
}

func with(e policy.Effective, f func(*policy.Effective)) policy.Effective {
	e.AllowedDomains = append([]string(nil), e.AllowedDomains...)
	f(&e)
	return e
}

func TestPublicAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"1.1.1.1", true},
		{"8.8.8.8", true},
		{"93.184.216.34", true},
		{"2606:4700:4700::1111", true},
		{"2a00:1450:4001:82b::200e", true},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"127.0.0.1", false},
		{"127.255.0.1", false},
		{"169.254.169.254", false},
		{"168.63.129.16", false}, // Azure's host endpoint
		{"168.63.129.17", true},
		{"169.254.1.1", false},
		{"100.64.0.1", false},
		{"100.127.255.254", false},
		{"100.100.100.200", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"192.0.2.1", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"198.18.0.1", false},
		{"192.0.0.8", false},
		{"::", false},
		{"::1", false},
		{"::ffff:1.1.1.1", false},
		{"::ffff:127.0.0.1", false},
		{"::1.1.1.1", false},
		{"64:ff9b::808:808", false},
		{"64:ff9b:1::1", false},
		{"2002:c000:0204::1", false},
		{"2001::1", false},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"2001:db8::1", false},
		{"3fff::1", false},
		{"fc00::1", false},
		{"fd00:ec2::254", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"ff02::1", false},
		{"100::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			require.Equal(t, tt.want, policy.PublicAddr(netip.MustParseAddr(tt.addr)))
		})
	}
	require.False(t, policy.PublicAddr(netip.Addr{}))
	p := policy.BlockedPrefixes()
	p[0] = netip.Prefix{}
	require.True(t, policy.BlockedPrefixes()[0].IsValid(), "BlockedPrefixes returns a copy")
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7": "203.0.113.7/32", "198.51.100.9/24": "198.51.100.0/24", "2001:db8::1": "2001:db8::1/128",
	} {
		p, err := policy.ParsePrefix(in)
		require.NoError(t, err, in)
		require.Equal(t, want, p.String(), in)
	}
	for _, bad := range []string{"", "nowhere", "1.2.3.4/33"} {
		_, err := policy.ParsePrefix(bad)
		require.Error(t, err, bad)
	}
}
