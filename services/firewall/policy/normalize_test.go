package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/firewall/policy"
)

func TestNormalizeAccepts(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "example.com", "example.com"},
		{"trimmed and lowercased", "  WWW.Example.COM  ", "www.example.com"},
		{"one trailing dot stripped", "example.com.", "example.com"},
		{"leading wildcard", "*.Example.com", "*.example.com"},
		{"wildcard below private suffix owner", "*.user.github.io", "*.user.github.io"},
		{"wildcard below co.uk registrable", "*.bbc.co.uk", "*.bbc.co.uk"},
		{"exact public suffix name is a site", "github.io", "github.io"},
		{"unicode to punycode", "bücher.example", "xn--bcher-kva.example"},
		{"cyrillic look-alike", "аpple.com", "xn--pple-43d.com"},
		{"full-width dots mapped", "example。com", "example.com"},
		{"digits not last", "123.example.com", "123.example.com"},
		{"hex-looking tld without 0x", "example.cafe", "example.cafe"},
		{"hyphens", "my-site.example-host.com", "my-site.example-host.com"},
		{"63-char label", strings.Repeat("a", 63) + ".com", strings.Repeat("a", 63) + ".com"},
		{"253-char name", longName(253), longName(253)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.Normalize(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// longName builds a valid name of exactly n characters ending in ".com".
func longName(n int) string {
	var b strings.Builder
	for b.Len() < n-4 {
		l := min(63, n-4-b.Len()-1)
		if b.Len() > 0 {
			b.WriteByte('.')
			l = min(63, n-4-b.Len())
		}
		if l <= 0 {
			break
		}
		b.WriteString(strings.Repeat("a", l))
	}
	return b.String() + ".com"
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "empty"},
		{"blank", "   ", "empty"},
		{"ipv4", "1.2.3.4", "IP addresses"},
		{"ipv4 trailing dot", "1.2.3.4.", "IP addresses"},
		{"ipv6 bracketed", "[::1]", "IP addresses"},
		{"ipv6 bare", "::1", "IP addresses"},
		{"ipv6 full", "2001:db8::1", "IP addresses"},
		{"ipv4 with port", "1.2.3.4:443", "IP addresses"},
		{"ipv6 bracketed with port", "[::1]:443", "IP addresses"},
		{"short ipv4", "127.1", "IP addresses"},
		{"hex ipv4", "0x7f.1", "IP addresses"},
		{"hex last label", "a.0x7f", "IP addresses"},
		{"bare 0x", "a.0x", "IP addresses"},
		{"decimal ipv4", "2130706433", "IP addresses"},
		{"octal ipv4", "0177.0.0.1", "IP addresses"},
		{"full-width digits", "１２７.０.０.１", "IP addresses"},
		{"cidr v4", "10.0.0.0/8", "CIDR"},
		{"cidr v6", "fd00::/8", "CIDR"},
		{"url https", "https://example.com", "URLs"},
		{"url with path", "http://example.com/x", "URLs"},
		{"scheme-relative url", "//example.com", "paths"},
		{"user info", "user@example.com", "URLs"},
		{"query", "example.com?a=b", "URLs"},
		{"fragment", "example.com#x", "URLs"},
		{"port", "example.com:443", "ports"},
		{"path", "example.com/path", "paths"},
		{"bare star", "*", "bare"},
		{"bare star dot", "*.", "bare"},
		{"public suffix com", "*.com", "public suffix"},
		{"public suffix co.uk", "*.co.uk", "public suffix"},
		{"private suffix github.io", "*.github.io", "public suffix"},
		{"unlisted tld", "*.internal", "public suffix"},
		{"inner wildcard", "a.*.com", "leading label"},
		{"partial wildcard", "*x.com", "leading label"},
		{"double wildcard", "**.example.com", "leading label"},
		{"trailing wildcard", "example.*", "leading label"},
		{"wildcard in label", "ex*ample.com", "leading label"},
		{"tab inside", "exa\tmple.com", "whitespace"},
		{"space inside", "exa mple.com", "whitespace"},
		{"newline inside", "example.com\nevil.com", "whitespace"},
		{"nul", "example\x00.com", "control"},
		{"zero width space", "app\u200ble.com", "invisible"},
		{"invalid utf8", "ex\xffample.com", "UTF-8"},
		{"label too long", strings.Repeat("a", 64) + ".com", "longer than 63"},
		{"name too long", longName(254), "longer than 253"},
		{"wildcard name too long", "*." + longName(252), "longer than 253"},
		{"single label", "localhost", "single-label"},
		{"single label tld", "com", "single-label"},
		{"two trailing dots", "example.com..", "empty label"},
		{"leading dot", ".example.com", "empty label"},
		{"double dot", "example..com", "empty label"},
		{"underscore", "a_b.example.com", "not a valid domain name"},
		{"leading hyphen", "-a.example.com", "not a valid domain name"},
		{"bad punycode", "xn--zz.example.com", "not a valid domain name"},
		{"backslash", `example.com\x`, "not a valid domain name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.Normalize(tt.in)
			require.Error(t, err, "got %q", got)
			require.ErrorIs(t, err, policy.ErrInvalid)
			var pe *policy.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, errcode.FirewallDomainInvalid, pe.Code)
			require.Equal(t, tt.in, pe.Entry)
			require.Contains(t, pe.Reason, tt.reason)
			require.Contains(t, err.Error(), fmt.Sprintf("%q", truncated(tt.in)))
		})
	}
}

func truncated(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func TestNormalizeDomains(t *testing.T) {
	t.Run("dedupes and sorts", func(t *testing.T) {
		got, err := policy.NormalizeDomains("f", []string{"b.com", "A.com.", "*.b.com", "a.com", " b.com "})
		require.NoError(t, err)
		require.Equal(t, []string{"*.b.com", "a.com", "b.com"}, got)
	})
	t.Run("empty is non-nil", func(t *testing.T) {
		got, err := policy.NormalizeDomains("f", nil)
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, got)
	})
	t.Run("bad entry names field and index", func(t *testing.T) {
		_, err := policy.NormalizeDomains("workspace_firewall_allowed_domains", []string{"a.com", "http://b.com"})
		var pe *policy.Error
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "workspace_firewall_allowed_domains[1]", pe.Field)
		require.Equal(t, "http://b.com", pe.Entry)
		require.Equal(t, `workspace_firewall_allowed_domains[1] "http://b.com": URLs are not allowed, give the host name only`, err.Error())
	})
	t.Run("128 entries allowed", func(t *testing.T) {
		_, err := policy.NormalizeDomains("f", names(128, 10))
		require.NoError(t, err)
	})
	t.Run("129 entries rejected", func(t *testing.T) {
		_, err := policy.NormalizeDomains("f", names(129, 10))
		var pe *policy.Error
		require.ErrorAs(t, err, &pe)
		require.Equal(t, errcode.FirewallDomainsTooMany, pe.Code)
		require.Equal(t, "f", pe.Field)
		require.ErrorIs(t, err, policy.ErrInvalid)
		require.Contains(t, err.Error(), "129 entries")
	})
	t.Run("over 16 KiB rejected", func(t *testing.T) {
		_, err := policy.NormalizeDomains("f", names(100, 200))
		var pe *policy.Error
		require.ErrorAs(t, err, &pe)
		require.Equal(t, errcode.FirewallDomainsTooMany, pe.Code)
		require.Contains(t, err.Error(), "bytes")
	})
}

// names returns n distinct entries of about size bytes each.
func names(n, size int) []string {
	out := make([]string, n)
	for i := range out {
		label := fmt.Sprintf("h%d", i)
		out[i] = label + strings.Repeat("x", max(0, size-len(label)-4)) + ".com"
	}
	return out
}

func TestParseMode(t *testing.T) {
	for _, m := range []policy.Mode{policy.ModeAllowlist, policy.ModeDeny, policy.ModeUnrestricted} {
		got, err := policy.ParseMode(string(m))
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	for _, s := range []string{"", "Allowlist", "allow", "block"} {
		_, err := policy.ParseMode(s)
		var pe *policy.Error
		require.True(t, errors.As(err, &pe), s)
		require.Equal(t, errcode.FirewallModeInvalid, pe.Code)
	}
}

func TestIsIPLiteral(t *testing.T) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4.", "[::1]", "::1", "fe80::1%eth0", "127.1", "0x7f.1", "2130706433", "0177.0.0.1", "a.0x10"} {
		require.True(t, policy.IsIPLiteral(s), s)
	}
	for _, s := range []string{"example.com", "1.example.com", "example.cafe", "", "[example.com]"} {
		require.False(t, policy.IsIPLiteral(s), s)
	}
}
