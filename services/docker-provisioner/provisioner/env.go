package provisioner

import (
	"flag"
	"strings"
	"time"

	"aileron.dev/pkg/config"
	"aileron.dev/pkg/workspace"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "AILERON_DOCKER_"

// Set reads a Go duration string such as "30s", so a Duration is a flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// commaList is a list setting written "a,b,c" in the environment.
type commaList []string

func (l *commaList) Set(s string) error {
	*l = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func (l *commaList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// String writes the duration as a Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// envSet binds one flag per overridable setting of c; config.Set names each
// variable after its flag (--runtime-image is AILERON_DOCKER_RUNTIME_IMAGE),
// the names README.md documents.
func (c *Config) envSet() *config.Set {
	s := config.NewSet("docker-provisioner", EnvPrefix)
	s.StringVar(&c.Instance, "instance", c.Instance, "instance")
	s.StringVar(&c.IngressHost, "ingress-host", c.IngressHost, "ingress_host")
	s.StringVar(&c.EndpointHost, "endpoint-host", c.EndpointHost, "endpoint_host")
	s.StringVar(&c.ProbeHost, "probe-host", c.ProbeHost, "probe_host")
	s.StringVar(&c.SubnetPool, "subnet-pool", c.SubnetPool, "subnet_pool")
	s.IntVar(&c.SubnetBits, "subnet-bits", c.SubnetBits, "subnet_bits")
	s.StringVar(&c.OutsideNetwork, "outside-network", c.OutsideNetwork, "outside_network")
	s.StringVar(&c.DNSMitigation, "dns-mitigation", c.DNSMitigation, "dns_mitigation")
	s.IntVar(&c.Workers, "workers", c.Workers, "workers")
	for name, d := range map[string]*Duration{
		"resync-interval": &c.ResyncInterval, "sweep-interval": &c.SweepInterval, "sweep-grace": &c.SweepGrace,
		"stop-timeout": &c.StopTimeout, "docker-timeout": &c.DockerTimeout, "pull-timeout": &c.PullTimeout,
		"health-timeout": &c.HealthTimeout, "crash-window": &c.CrashWindow,
	} {
		s.Var(d, name, strings.ReplaceAll(name, "-", "_"))
	}
	s.BoolVar(&c.SweepDryRun, "sweep-dry-run", c.SweepDryRun, "sweep_dry_run")
	s.BoolVar(&c.SweepDataVolumes, "sweep-data-volumes", c.SweepDataVolumes, "sweep_data_volumes")
	s.IntVar(&c.CrashLimit, "crash-limit", c.CrashLimit, "crash_limit")
	s.StringVar(&c.Gateway.Image, "gateway-image", c.Gateway.Image, "gateway.image")
	s.StringVar(&c.Gateway.UpstreamDNS, "gateway-dns", c.Gateway.UpstreamDNS, "gateway.upstream_dns")
	s.Var((*commaList)(&c.Gateway.DenyCIDRs), "gateway-deny-cidrs", "gateway.deny_cidrs (comma-separated)")
	for _, name := range workspace.Services {
		svc, p := c.Services.Get(name), string(name)+"-"
		s.StringVar(&svc.Image, p+"image", svc.Image, "image")
		s.IntVar(&svc.Port, p+"port", svc.Port, "port")
		s.Float64Var(&svc.CPUs, p+"cpus", svc.CPUs, "cpus")
		s.Int64Var(&svc.MemoryMB, p+"memory-mb", svc.MemoryMB, "memory_mb")
		s.Int64Var(&svc.Pids, p+"pids", svc.Pids, "pids")
		s.BoolVar(&svc.ReadOnlyRootfs, p+"read-only-rootfs", svc.ReadOnlyRootfs, "read_only_rootfs")
		s.StringVar(&svc.HealthPath, p+"health-path", svc.HealthPath, "health_path")
	}
	return s
}

// EnvNames lists every recognised environment variable, for documentation.
func EnvNames() []string {
	c := DefaultConfig()
	return c.envSet().EnvNames()
}

// ApplyEnv overrides fields from AILERON_DOCKER_* variables read with getenv
// (os.Getenv in main). A value that does not parse is an error naming it.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	return c.envSet().ApplyEnv(getenv)
}

var _ flag.Value = (*Duration)(nil)
