package provisioner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
)

// DNS mitigation modes for engines affected by CVE-2024-29018.
const (
	DNSMitigationAuto   = "auto"
	DNSMitigationAlways = "always"
	DNSMitigationNever  = "never"
)

// Duration is a time.Duration that reads and writes as "30s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a Go duration string such as "1m30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ServiceConfig is how one workspace service runs: the settings every
// provisioner shares (image, port, cpus, memory_mb, pids; swap is capped at
// the memory limit) and those of Docker containers.
type ServiceConfig struct {
	workspace.ServiceConfig
	// Command overrides the image's CMD when set.
	Command []string `json:"command,omitempty"`
	// Env is added to the container's environment.
	Env map[string]string `json:"env,omitempty"`
	// User runs the container as uid:gid; it must not be root.
	User string `json:"user"`
	// ReadOnlyRootfs mounts the image read-only; /tmp is a tmpfs either way.
	ReadOnlyRootfs bool `json:"read_only_rootfs"`
	// TmpfsMB sizes the /tmp tmpfs.
	TmpfsMB int64 `json:"tmpfs_mb"`
	// ShmMB sizes /dev/shm (0: the engine's 64 MiB). Chromium keeps its
	// rendering buffers there and crashes tabs when it runs out.
	ShmMB int64 `json:"shm_mb,omitempty"`
	// CapAdd adds capabilities back after dropping ALL; leave empty unless the
	// service provably needs one (README documents why for each default).
	CapAdd []string `json:"cap_add,omitempty"`
	// HealthPath is probed with HTTP GET through the ingress; 2xx/3xx is healthy.
	HealthPath string `json:"health_path"`
}

// GatewayConfig is how the per-workspace egress gateway runs.
type GatewayConfig struct {
	// Image is the gateway image (services/firewall/cmd/egress-gateway).
	Image string `json:"image"`
	// User runs the gateway as uid:gid; it must not be root.
	User string `json:"user"`
	// WorkspacePort and BrowserPort are the proxy listeners of the two groups.
	WorkspacePort int `json:"workspace_port"`
	BrowserPort   int `json:"browser_port"`
	// IngressPort is the port inside the gateway that the host port maps to.
	IngressPort int `json:"ingress_port"`
	// CDPPort is where the gateway relays the browser's DevTools protocol
	// to the workspace group (the agent drives the browser through it). It
	// listens on the gateway's workspace-network address only and passes
	// only the DevTools paths; the runtime gets its URL as
	// AILERON_BROWSER_URL.
	CDPPort int `json:"cdp_port"`
	// UpstreamDNS is the resolver the gateway resolves egress names with
	// ("host:port"); the default 127.0.0.11:53 is the engine's embedded DNS on
	// the gateway's outside network, which forwards to the host's resolvers.
	UpstreamDNS string `json:"upstream_dns"`
	// DenyHostAddresses makes the gateway refuse this host's own public
	// addresses, so workspaces cannot reach host services through it.
	DenyHostAddresses bool `json:"deny_host_addresses"`
	// DenyCIDRs are more addresses or ranges the gateway never dials: a
	// public address the host is reached by but does not hold itself (a
	// cloud's 1:1 NAT), or any other destination to keep out of reach.
	DenyCIDRs []string `json:"deny_cidrs,omitempty"`
	// CPUs, MemoryMB and Pids limit the gateway like a service.
	CPUs     float64 `json:"cpus"`
	MemoryMB int64   `json:"memory_mb"`
	Pids     int64   `json:"pids"`
	// ExtraArgs are appended to the gateway's arguments.
	ExtraArgs []string `json:"extra_args,omitempty"`
}

// Config configures the docker provisioner.
type Config struct {
	// Instance is stamped on every object as aileron.dev/instance; the orphan
	// sweep only considers objects of its own instance, so two control planes
	// (or parallel test runs) on one engine never remove each other's objects.
	// Empty (the default) uses the installation's id, kept in the secrets
	// bucket (see LoadInstance): a provisioner pointed at another NATS has
	// another id.
	Instance string `json:"instance"`
	// Services configures runtime, terminal, browser and canvas.
	Services Services `json:"services"`
	// Gateway configures the egress gateway.
	Gateway GatewayConfig `json:"gateway"`
	// IngressHost is the host address the gateway's ingress port is published
	// on (127.0.0.1 by default: reachable from this machine only).
	IngressHost string `json:"ingress_host"`
	// EndpointHost is the host name used in reported endpoints; empty uses IngressHost.
	EndpointHost string `json:"endpoint_host,omitempty"`
	// ProbeHost is where the provisioner reaches published ingress ports for
	// health checks; empty uses IngressHost (0.0.0.0 and :: become loopback).
	ProbeHost string `json:"probe_host,omitempty"`
	// SubnetPool is carved into one subnet per internal network, so hundreds of
	// workspaces do not exhaust the engine's default address pools.
	SubnetPool string `json:"subnet_pool"`
	// SubnetBits is the prefix length of each internal network (24-29).
	SubnetBits int `json:"subnet_bits"`
	// OutsideNetwork is the shared bridge network every gateway is attached
	// to; a user-defined one (not the engine's "bridge").
	OutsideNetwork string `json:"outside_network"`
	// DNSMitigation is auto (apply on engines before 26.0/25.0.4), always or never.
	DNSMitigation string `json:"dns_mitigation"`
	// Workers bounds how many workspaces are reconciled at once.
	Workers int `json:"workers"`
	// Consumer is the durable JetStream consumer name. The provisioner's
	// NATS user (bus.RoleDockerProvisioner) may use only the default one:
	// another name needs its own permissions on the server.
	Consumer string `json:"consumer"`
	// ResyncInterval is how often every docker workspace is reconciled.
	ResyncInterval Duration `json:"resync_interval"`
	// SweepInterval is how often orphans are looked for; SweepGrace is how old
	// an orphan must be before it is removed; SweepDryRun only logs.
	SweepInterval Duration `json:"sweep_interval"`
	SweepGrace    Duration `json:"sweep_grace"`
	SweepDryRun   bool     `json:"sweep_dry_run"`
	// SweepDataVolumes lets the sweep remove an orphan's data volume (the
	// user's files); off, such volumes are kept and logged each pass.
	SweepDataVolumes bool `json:"sweep_data_volumes"`
	// StopTimeout is the graceful stop period before SIGKILL.
	StopTimeout Duration `json:"stop_timeout"`
	// DockerTimeout bounds each Docker API call (a network create gets four
	// times as long); PullTimeout bounds an image pull.
	DockerTimeout Duration `json:"docker_timeout"`
	PullTimeout   Duration `json:"pull_timeout"`
	// HealthTimeout is how long a started service may stay unhealthy before the
	// workspace fails with HEALTH_CHECK_FAILED.
	HealthTimeout Duration `json:"health_timeout"`
	// HealthWait is how long one reconcile pass waits for health before
	// releasing its worker and requeueing.
	HealthWait Duration `json:"health_wait"`
	// ProbeTimeout bounds one HTTP health probe.
	ProbeTimeout Duration `json:"probe_timeout"`
	// A service of a running workspace found exited CrashLimit times within
	// CrashWindow fails the workspace with CONTAINER_CRASH_LOOP; fewer exits
	// are restarted.
	CrashLimit  int      `json:"crash_limit"`
	CrashWindow Duration `json:"crash_window"`
}

// Default images, all built by hack/workspace-images.sh: the runtime daemon
// serves the runtime API and the terminals on one port, so the runtime and
// terminal services both run it; the browser is Chromium behind the browser
// daemon; the canvas daemon reads through the runtime's files API. The stub
// (deploy/hack/build-images.sh) stands in for any of them in the
// provisioner's own fast tests.
const (
	DefaultRuntimeImage = "aileron/workspace-runtime:dev"
	DefaultBrowserImage = "aileron/workspace-browser:dev"
	DefaultCanvasImage  = "aileron/workspace-canvas:dev"
	StubImage           = "aileron/workspace-stub:dev"
)

// DefaultConfig returns the defaults: the locally built runtime, stub and
// gateway images, ingress on 127.0.0.1, hardened containers.
func DefaultConfig() Config {
	svc := func(image string, mem int64) ServiceConfig {
		return ServiceConfig{
			ServiceConfig: workspace.ServiceConfig{Image: image, Port: 8080, CPUs: 1, MemoryMB: mem, Pids: 256},
			User:          "65532:65532", ReadOnlyRootfs: true, TmpfsMB: 64, HealthPath: "/healthz",
		}
	}
	daemon := func(mem int64) ServiceConfig {
		s := svc(DefaultRuntimeImage, mem)
		s.Env = map[string]string{"HOME": workspace.HomeDir}
		return s
	}
	// Chromium: a renderer per tab, many threads each (six idle tabs hold
	// about 120), its buffers in /dev/shm, its profile and cache in /tmp.
	browser := svc(DefaultBrowserImage, 1536)
	browser.ShmMB, browser.TmpfsMB, browser.Pids = 256, 256, 512
	return Config{
		Services: Services{Runtime: daemon(1024), Terminal: daemon(256), Browser: browser, Canvas: svc(DefaultCanvasImage, 256)},
		Gateway: GatewayConfig{
			Image: "aileron/egress-gateway:dev", User: "65532:65532",
			WorkspacePort: 3128, BrowserPort: 3129, IngressPort: 8080, CDPPort: 9222, UpstreamDNS: "127.0.0.11:53", DenyHostAddresses: true,
			CPUs: 0.5, MemoryMB: 128, Pids: 128,
		},
		IngressHost:    "127.0.0.1",
		SubnetPool:     "10.213.0.0/16",
		SubnetBits:     28,
		OutsideNetwork: "aileron-egress",
		DNSMitigation:  DNSMitigationAuto,
		Workers:        32,
		Consumer:       bus.ConsumerDockerProvisioner,
		ResyncInterval: Duration(30 * time.Second),
		SweepInterval:  Duration(time.Minute),
		SweepGrace:     Duration(5 * time.Minute),
		StopTimeout:    Duration(10 * time.Second),
		DockerTimeout:  Duration(30 * time.Second),
		PullTimeout:    Duration(5 * time.Minute),
		HealthTimeout:  Duration(2 * time.Minute),
		HealthWait:     Duration(10 * time.Second),
		ProbeTimeout:   Duration(2 * time.Second),
		CrashLimit:     5,
		CrashWindow:    Duration(10 * time.Minute),
	}
}

var labelValue = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Validate checks the configuration and names the offending field.
func (c Config) Validate() error {
	var errs []error
	if c.Instance != "" && !labelValue.MatchString(c.Instance) {
		errs = append(errs, fmt.Errorf("instance %q: want 1-63 lowercase letters, digits, '.', '_' or '-'", c.Instance))
	}
	for _, name := range workspace.Services {
		errs = append(errs, c.Services.Get(name).validate("services."+string(name)))
	}
	errs = append(errs, c.Gateway.validate(), c.validateNetwork(), c.validateTimings())
	if c.DNSMitigation != DNSMitigationAuto && c.DNSMitigation != DNSMitigationAlways && c.DNSMitigation != DNSMitigationNever {
		errs = append(errs, fmt.Errorf("dns_mitigation %q: want auto, always or never", c.DNSMitigation))
	}
	if c.CrashLimit < 1 {
		errs = append(errs, fmt.Errorf("crash_limit %d: want at least 1", c.CrashLimit))
	}
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("workers %d: want 1-256", c.Workers))
	}
	if c.Consumer == "" {
		errs = append(errs, errors.New("consumer: must not be empty"))
	}
	return errors.Join(errs...)
}

// Services holds the configuration of each service.
type Services = workspace.PerService[ServiceConfig]

func (s ServiceConfig) validate(field string) error {
	var errs []error
	if s.Image == "" {
		errs = append(errs, fmt.Errorf("%s.image: must not be empty", field))
	}
	if s.Port < 1 || s.Port > 65535 {
		errs = append(errs, fmt.Errorf("%s.port %d: want 1-65535", field, s.Port))
	}
	errs = append(errs, validateUser(field+".user", s.User), validateLimits(field, s.CPUs, s.MemoryMB, s.Pids))
	if s.TmpfsMB < 1 {
		errs = append(errs, fmt.Errorf("%s.tmpfs_mb %d: must be positive", field, s.TmpfsMB))
	}
	if s.ShmMB < 0 {
		errs = append(errs, fmt.Errorf("%s.shm_mb %d: must not be negative", field, s.ShmMB))
	}
	if !strings.HasPrefix(s.HealthPath, "/") {
		errs = append(errs, fmt.Errorf("%s.health_path %q: must start with /", field, s.HealthPath))
	}
	for i, c := range s.CapAdd {
		if strings.EqualFold(c, "ALL") || strings.EqualFold(c, "CAP_SYS_ADMIN") || strings.EqualFold(c, "SYS_ADMIN") {
			errs = append(errs, fmt.Errorf("%s.cap_add[%d] %q: refused, it would undo the container's isolation", field, i, c))
		}
	}
	return errors.Join(errs...)
}

func (g GatewayConfig) validate() error {
	var errs []error
	if g.Image == "" {
		errs = append(errs, errors.New("gateway.image: must not be empty"))
	}
	if _, _, err := net.SplitHostPort(g.UpstreamDNS); err != nil {
		errs = append(errs, fmt.Errorf("gateway.upstream_dns %q: want host:port", g.UpstreamDNS))
	}
	ports := map[string]int{"workspace_port": g.WorkspacePort, "browser_port": g.BrowserPort, "ingress_port": g.IngressPort, "cdp_port": g.CDPPort}
	seen := map[int]bool{}
	for _, name := range slices.Sorted(maps.Keys(ports)) {
		p := ports[name]
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("gateway.%s %d: want 1-65535", name, p))
		}
		seen[p] = true
	}
	for i, c := range g.DenyCIDRs {
		if _, err := policy.ParsePrefix(c); err != nil {
			errs = append(errs, fmt.Errorf("gateway.deny_cidrs[%d] %q: want an address or a CIDR range", i, c))
		}
	}
	if len(seen) != len(ports) {
		errs = append(errs, errors.New("gateway ports: workspace_port, browser_port, ingress_port and cdp_port must differ"))
	}
	return errors.Join(append(errs, validateUser("gateway.user", g.User), validateLimits("gateway", g.CPUs, g.MemoryMB, g.Pids))...)
}

func validateUser(field, user string) error {
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n <= 0 {
		return fmt.Errorf("%s %q: want a numeric non-root uid[:gid]", field, user)
	}
	return nil
}

func validateLimits(field string, cpus float64, memMB, pids int64) error {
	var errs []error
	if cpus <= 0 || cpus > 64 {
		errs = append(errs, fmt.Errorf("%s.cpus %g: want more than 0 and at most 64", field, cpus))
	}
	if memMB < 16 {
		errs = append(errs, fmt.Errorf("%s.memory_mb %d: want at least 16", field, memMB))
	}
	if pids < 8 {
		errs = append(errs, fmt.Errorf("%s.pids %d: want at least 8", field, pids))
	}
	return errors.Join(errs...)
}

func (c Config) validateNetwork() error {
	var errs []error
	if _, err := netip.ParseAddr(c.IngressHost); err != nil {
		errs = append(errs, fmt.Errorf("ingress_host %q: want an IP address", c.IngressHost))
	}
	p, err := netip.ParsePrefix(c.SubnetPool)
	switch {
	case err != nil || !p.Addr().Is4() || p != p.Masked():
		errs = append(errs, fmt.Errorf("subnet_pool %q: want an IPv4 network such as 10.213.0.0/16", c.SubnetPool))
	case c.SubnetBits < 24 || c.SubnetBits > 29 || c.SubnetBits < p.Bits()+1:
		errs = append(errs, fmt.Errorf("subnet_bits %d: want 24-29 and longer than the pool's /%d", c.SubnetBits, p.Bits()))
	}
	switch c.OutsideNetwork {
	case "":
		errs = append(errs, errors.New("outside_network: must not be empty"))
	case "bridge", "host", "none":
		// The gateway's ingress is bound through a network-scoped alias.
		errs = append(errs, fmt.Errorf("outside_network %q: want a user-defined bridge network", c.OutsideNetwork))
	}
	return errors.Join(errs...)
}

func (c Config) validateTimings() error {
	var errs []error
	for name, d := range map[string]Duration{
		"resync_interval": c.ResyncInterval, "sweep_interval": c.SweepInterval, "stop_timeout": c.StopTimeout,
		"docker_timeout": c.DockerTimeout, "pull_timeout": c.PullTimeout, "health_timeout": c.HealthTimeout,
		"health_wait": c.HealthWait, "probe_timeout": c.ProbeTimeout, "crash_window": c.CrashWindow,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", name))
		}
	}
	if c.SweepGrace < 0 {
		errs = append(errs, errors.New("sweep_grace: must not be negative"))
	}
	return errors.Join(errs...)
}

// LoadConfig reads a JSON config file over DefaultConfig (fields it omits keep
// their defaults; unknown fields are errors), then applies environment
// overrides (see ApplyEnv). An empty path reads no file.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("parse config %s: %w", path, err)
		}
	}
	if err := cfg.ApplyEnv(getenv); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}
