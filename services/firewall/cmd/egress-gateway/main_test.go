package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"aileron.dev/pkg/config"
	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/egress/egresstest"
	"aileron.dev/services/firewall/ingress"
	"aileron.dev/services/firewall/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseConfig(t *testing.T) {
	t.Setenv("EGRESS_LISTEN", "workspace=:1,browser=:2")
	t.Setenv("EGRESS_DNS", "10.0.0.2")
	t.Setenv("EGRESS_POLICY_FILE", "/etc/p.json")
	cfg, err := parseConfig(nil)
	require.NoError(t, err)
	require.Equal(t, map[policy.Group]string{"workspace": ":1", "browser": ":2"}, cfg.Listen)
	require.Equal(t, "10.0.0.2:53", cfg.DNSServer)

	cfg, err = parseConfig([]string{"--listen", "browser=:9", "--ingress", ":8080", "--secret-file", "/etc/s", "--route", "/runtime/=runtime:8080",
		"--route", "/terminal=terminal:7681", "--dns", "[fd00::53]:5353", "--log-format", "text"})
	require.NoError(t, err)
	require.Equal(t, map[policy.Group]string{"browser": ":9"}, cfg.Listen, "flags replace env")
	require.Len(t, cfg.Routes, 2)
	require.Equal(t, "/terminal/", cfg.Routes[1].Prefix)
	require.Equal(t, "[fd00::53]:5353", cfg.DNSServer)
	require.Equal(t, "/etc/s", cfg.SecretFile)

	cfg, err = parseConfig([]string{"--cdp-relay", "10.0.0.2:9222=10.0.1.3:8080"})
	require.NoError(t, err, "a relay alone is something to serve")
	require.Equal(t, "10.0.0.2:9222", cfg.CDPRelay)
	require.Equal(t, "10.0.1.3:8080", cfg.CDPTarget.Host)

	for name, args := range map[string][]string{
		"unknown group":          {"--listen", "db=:1"},
		"no equals":              {"--listen", ":1"},
		"duplicate":              {"--listen", "workspace=:1", "--listen", "workspace=:2"},
		"bad route":              {"--ingress", ":1", "--route", "runtime:8080"},
		"bad log format":         {"--log-format", "xml"},
		"secret without ingress": {"--listen", "workspace=:1", "--dns", "1.1.1.1", "--policy-file", "/p", "--secret-file", "/s"},
		"extra args":             {"stray"},
		"bad cdp relay":          {"--cdp-relay", "10.0.0.2:9222"},
	} {
		_, err := parseConfig(args)
		require.Error(t, err, name)
	}

	t.Setenv("EGRESS_LISTEN", "")
	_, err = parseConfig(nil)
	require.ErrorContains(t, err, "nothing to serve")
	t.Setenv("EGRESS_LISTEN", "workspace=:1")
	t.Setenv("EGRESS_DNS", "")
	_, err = parseConfig(nil)
	require.ErrorContains(t, err, "dns: required")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func TestRun(t *testing.T) {
	dns := egresstest.StartDNS(t)
	dns.Set("example.test", netip.MustParseAddr("127.0.0.2"))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "runtime "+r.URL.Path)
	}))
	defer backend.Close()
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	require.NoError(t, os.WriteFile(policyFile, []byte(`{"workspace": {"network_access_enabled": true, "mode": "allowlist", "allowed_domains": ["example.test"]}}`), 0o600))
	// The secret file is written after the gateway starts, as the
	// provisioner may do.
	secretFile := filepath.Join(t.TempDir(), "ingress-secret")
	const secret = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2"

	cfg := Config{
		Listen:          map[policy.Group]string{policy.GroupWorkspace: freeAddr(t)},
		Ingress:         freeAddr(t),
		PolicyFile:      policyFile,
		SecretFile:      secretFile,
		PolicyInterval:  10 * time.Millisecond,
		DNSServer:       dns.Addr,
		Log:             config.DefaultLog(),
		ShutdownTimeout: time.Second,
	}
	r, err := ingress.ParseRoute("/runtime/=" + backend.URL)
	require.NoError(t, err)
	cfg.Routes = append(cfg.Routes, r)
	require.NoError(t, cfg.Validate())

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.DiscardHandler)) }()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	getRuntime := func(secret string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, "http://"+cfg.Ingress+"/runtime/hello", nil)
		require.NoError(t, err)
		if secret != "" {
			req.Header.Set(ingress.Header, secret)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool { code, _ := getRuntime(secret); return code == http.StatusForbidden },
		5*time.Second, 20*time.Millisecond, "no secret file yet: refused")
	require.NoError(t, os.WriteFile(secretFile, []byte(secret), 0o400))
	require.Eventually(t, func() bool { _, body := getRuntime(secret); return body == "runtime /hello" },
		5*time.Second, 20*time.Millisecond)
	code, body := getRuntime("")
	require.Equal(t, http.StatusForbidden, code)
	require.Empty(t, body)

	// The ingress tells the provisioner which policy is in force, once it is.
	policyDigest := func() string {
		req, err := http.NewRequest(http.MethodGet, "http://"+cfg.Ingress+ingress.PolicyPath, nil)
		require.NoError(t, err)
		req.Header.Set(ingress.Header, secret)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var d struct{ SHA256 string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&d))
		return d.SHA256
	}
	data, err := os.ReadFile(policyFile)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return policyDigest() == egress.PolicyDigest(data) }, 5*time.Second, 20*time.Millisecond)

	// The production address filter refuses the loopback answer; an
	// unlisted name is refused by policy.
	for host, reason := range map[string]string{"example.test": egress.ReasonNonPublicAddr, "other.test": egress.ReasonNotAllowed} {
		require.Eventually(t, func() bool {
			return connectReason(t, cfg.Listen[policy.GroupWorkspace], host) == reason
		}, 5*time.Second, 20*time.Millisecond, host)
	}

	cancel()
	require.NoError(t, <-done)
}

func connectReason(t *testing.T, proxy, host string) string {
	t.Helper()
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", host, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get(egress.HeaderDenied)
}

func TestDenyCIDRs(t *testing.T) {
	cfg, err := parseConfig([]string{"--ingress", ":0", "--deny-cidr", "1.1.1.1", "--deny-cidr", "9.9.9.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	allow := addrFilter(cfg.DenyCIDRs)
	for addr, want := range map[string]bool{
		"1.1.1.1": false, "9.9.9.9": false, "10.0.0.1": false, // denied, denied, private
		"8.8.8.8": true, "1.0.0.1": true, "::ffff:1.1.1.1": false,
	} {
		if got := allow(netip.MustParseAddr(addr)); got != want {
			t.Errorf("allow(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := parseConfig([]string{"--ingress", ":0", "--deny-cidr", "not-an-ip"}); err == nil {
		t.Error("a bad --deny-cidr must be refused")
	}
}

func TestParseConfigRefusesMalformedEnv(t *testing.T) {
	t.Setenv("EGRESS_INGRESS", ":0")
	t.Setenv("EGRESS_POLICY_INTERVAL", "often")
	_, err := parseConfig(nil)
	require.ErrorContains(t, err, `EGRESS_POLICY_INTERVAL="often" (flag --policy-interval)`)
	_, err = parseConfig([]string{"--policy-interval", "2s"})
	require.NoError(t, err, "the command line wins over the environment")
}

func TestMaxConns(t *testing.T) {
	cfg, err := parseConfig([]string{"--ingress", ":0"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != egress.DefaultMaxConns {
		t.Errorf("default --max-conns = %d, want %d", cfg.MaxConns, egress.DefaultMaxConns)
	}
	t.Setenv("EGRESS_MAX_CONNS", "64")
	if cfg, err = parseConfig([]string{"--ingress", ":0"}); err != nil || cfg.MaxConns != 64 {
		t.Errorf("EGRESS_MAX_CONNS=64: got %d, %v", cfg.MaxConns, err)
	}
	if _, err := parseConfig([]string{"--ingress", ":0", "--max-conns", "-1"}); err == nil || !strings.Contains(err.Error(), "--max-conns") {
		t.Errorf("--max-conns -1 must be refused naming the flag, got %v", err)
	}
}
