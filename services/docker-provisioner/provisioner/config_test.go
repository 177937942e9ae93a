package provisioner

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/workspace"
)

func TestDefaultConfigIsValid(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(*Config)
		want  string
	}{
		{"root user", func(c *Config) { c.Services.Runtime.User = "0:0" }, "services.runtime.user"},
		{"no image", func(c *Config) { c.Services.Canvas.Image = "" }, "services.canvas.image"},
		{"bad port", func(c *Config) { c.Services.Browser.Port = 0 }, "services.browser.port"},
		{"sys admin", func(c *Config) { c.Services.Browser.CapAdd = []string{"SYS_ADMIN"} }, "services.browser.cap_add[0]"},
		{"no memory limit", func(c *Config) { c.Services.Terminal.MemoryMB = 0 }, "services.terminal.memory_mb"},
		{"no pids limit", func(c *Config) { c.Gateway.Pids = 0 }, "gateway.pids"},
		{"same ports", func(c *Config) { c.Gateway.BrowserPort = c.Gateway.WorkspacePort }, "must differ"},
		{"pool", func(c *Config) { c.SubnetPool = "10.0.0.1/16" }, "subnet_pool"},
		{"subnet bits", func(c *Config) { c.SubnetBits = 30 }, "subnet_bits"},
		{"ingress host", func(c *Config) { c.IngressHost = "localhost" }, "ingress_host"},
		{"dns mode", func(c *Config) { c.DNSMitigation = "maybe" }, "dns_mitigation"},
		{"workers", func(c *Config) { c.Workers = 0 }, "workers"},
		{"instance", func(c *Config) { c.Instance = "Bad Name" }, "instance"},
		{"timeout", func(c *Config) { c.HealthTimeout = 0 }, "health_timeout"},
		{"upstream dns", func(c *Config) { c.Gateway.UpstreamDNS = "127.0.0.11" }, "gateway.upstream_dns"},
		{"default bridge", func(c *Config) { c.OutsideNetwork = "bridge" }, "outside_network"},
		{"deny cidr", func(c *Config) { c.Gateway.DenyCIDRs = []string{"203.0.113.7", "nowhere"} }, "gateway.deny_cidrs[1]"},
		{"cdp port", func(c *Config) { c.Gateway.CDPPort = c.Gateway.IngressPort }, "cdp_port must differ"},
		{"cdp port range", func(c *Config) { c.Gateway.CDPPort = 0 }, "gateway.cdp_port 0"},
		{"shm", func(c *Config) { c.Services.Browser.ShmMB = -1 }, "services.browser.shm_mb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.tweak(&c)
			err := c.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadConfigMergesFileAndEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docker.json")
	require.NoError(t, os.WriteFile(path, []byte(`{
		"services": {"runtime": {"image": "example/runtime:1", "memory_mb": 2048}},
		"health_timeout": "45s"
	}`), 0o600))
	env := map[string]string{"AILERON_DOCKER_BROWSER_IMAGE": "example/chrome:2", "AILERON_DOCKER_WORKERS": "4", "AILERON_DOCKER_SWEEP_DRY_RUN": "true",
		"AILERON_DOCKER_GATEWAY_DENY_CIDRS": "203.0.113.7, 198.51.100.0/24"}
	c, err := LoadConfig(path, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, "example/runtime:1", c.Services.Runtime.Image)
	require.EqualValues(t, 2048, c.Services.Runtime.MemoryMB)
	require.Equal(t, 8080, c.Services.Runtime.Port, "fields the file omits keep their defaults")
	require.Equal(t, "example/chrome:2", c.Services.Browser.Image)
	require.Equal(t, Duration(45*time.Second), c.HealthTimeout)
	require.Equal(t, 4, c.Workers)
	require.True(t, c.SweepDryRun)
	require.Equal(t, []string{"203.0.113.7", "198.51.100.0/24"}, c.Gateway.DenyCIDRs)

	_, err = LoadConfig(path, func(k string) string { return map[string]string{"AILERON_DOCKER_WORKERS": "many"}[k] })
	require.ErrorContains(t, err, "AILERON_DOCKER_WORKERS")

	require.NoError(t, os.WriteFile(path, []byte(`{"servcies": {}}`), 0o600))
	_, err = LoadConfig(path, nil)
	require.ErrorContains(t, err, "servcies")
}

func TestEnvNamesAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, name := range EnvNames() {
		generic := name
		for _, s := range workspace.Services {
			generic = strings.Replace(generic, "_"+strings.ToUpper(string(s))+"_", "_<SERVICE>_", 1)
		}
		require.Contains(t, string(readme), generic, "README.md does not document %s", name)
	}
}

func TestDNSLeakFixed(t *testing.T) {
	for v, want := range map[string]bool{
		"20.10.24+dfsg1": false, "24.0.7": false, "25.0.3": false, "25.0.4": true, "25.0.5": true,
		"26.0.0": true, "27.3.1": true, "v28.0.1": true, "garbage": false, "": false,
	} {
		require.Equal(t, want, dnsLeakFixed(v), v)
	}
}

func TestSubnetCarving(t *testing.T) {
	pool := netip.MustParsePrefix("10.213.0.0/16")
	require.Equal(t, "10.213.0.0/28", nthSubnet(pool, 28, 0).String())
	require.Equal(t, "10.213.0.16/28", nthSubnet(pool, 28, 1).String())
	require.Equal(t, "10.213.255.240/28", nthSubnet(pool, 28, 4095).String())
	n := netInfo{Subnet: netip.MustParsePrefix("10.213.0.16/28")}
	require.Equal(t, "10.213.0.18", n.gatewayIP().String())
	require.Equal(t, "10.213.0.19", n.serviceIP(workspace.ServiceRuntime).String())
	require.Equal(t, "10.213.0.21", n.serviceIP(workspace.ServiceCanvas).String())
	require.True(t, isOverlap(errString("Error response from daemon: Pool overlaps with other one on this address space")))
}

type errString string

func (e errString) Error() string { return string(e) }
