package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"aileron.dev/pkg/config"
	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/ingress"
	"aileron.dev/services/firewall/policy"
)

// EnvPrefix starts the gateway's environment variables: the provisioner
// configures the gateway container through them, so they keep their own
// names (--policy-file is EGRESS_POLICY_FILE).
const EnvPrefix = "EGRESS_"

// Config is the gateway's whole configuration, from flags or EGRESS_* env.
type Config struct {
	// Listen maps each group to its proxy listen address.
	Listen map[policy.Group]string
	// Ingress is the published ingress listen address ("" for none).
	Ingress string
	// MetricsAddr serves /metrics ("" for none).
	MetricsAddr string
	// Routes are the ingress path routes.
	Routes []ingress.Route
	// CDPRelay is where the DevTools relay listens ("" for none) and
	// CDPTarget the browser daemon it relays to.
	CDPRelay  string
	CDPTarget *url.URL
	// PolicyFile is the JSON policy file, watched for changes.
	PolicyFile string
	// PolicyInterval is how often the policy and ingress secret files are checked.
	PolicyInterval time.Duration
	// SecretFile holds the workspace's ingress secret, watched like the
	// policy file. A file, not a flag or variable: process arguments are
	// readable by every user of the host (ps), and a file can be written
	// after the container starts and replaced without recreating it.
	SecretFile string
	// DNSServer is the host:port every egress name is resolved with.
	DNSServer string
	// Log is the log level and format.
	Log config.Log
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration
	// DenyCIDRs are refused on top of every non-public range, e.g. the
	// addresses of the host the gateway runs on.
	DenyCIDRs []netip.Prefix
	// MaxConns caps the open client connections of both groups; 0 is
	// egress.DefaultMaxConns.
	MaxConns int
}

// parseConfig reads flags from args, then EGRESS_* variables for the flags
// args leaves out.
func parseConfig(args []string) (Config, error) {
	fs := config.NewSet("egress-gateway", EnvPrefix)
	var listen, routes, deny config.List
	fs.Var(&deny, "deny-cidr", "an address range never dialed even when public, repeatable, e.g. the host's own address; the variable is comma-separated")
	fs.Var(&listen, "listen", "proxy listener GROUP=ADDR, repeatable, e.g. workspace=:3128; the variable is comma-separated")
	fs.Var(&routes, "route", "ingress route /PREFIX/=HOST:PORT, repeatable; the variable is comma-separated")
	cfg := Config{Log: config.DefaultLog()}
	fs.StringVar(&cfg.Ingress, "ingress", "", "ingress listen address")
	var relay string
	fs.StringVar(&relay, "cdp-relay", "", "DevTools relay LISTEN=HOST:PORT: the workspace group's route to the browser daemon's /json and /devtools/ paths")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "address of the Prometheus /metrics endpoint (decisions, tunnels, bytes); empty: off")
	fs.StringVar(&cfg.PolicyFile, "policy-file", "", "policy JSON file")
	fs.StringVar(&cfg.SecretFile, "secret-file", "", "file holding the ingress secret every ingress request must carry (without it the ingress refuses everything)")
	fs.StringVar(&cfg.DNSServer, "dns", "", "DNS server HOST[:PORT] for egress names")
	cfg.Log.Register(fs)
	fs.DurationVar(&cfg.PolicyInterval, "policy-interval", 250*time.Millisecond, "policy and secret file check interval (a policy change is enforced within it)")
	fs.IntVar(&cfg.MaxConns, "max-conns", egress.DefaultMaxConns, "open client connections (both groups) beyond which new ones are answered 503")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to drain connections on shutdown")
	// The lists' documented variables are plural.
	fs.SetEnv("route", EnvPrefix+"ROUTES")
	fs.SetEnv("deny-cidr", EnvPrefix+"DENY_CIDRS")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Listen = map[policy.Group]string{}
	for _, l := range listen {
		g, addr, ok := strings.Cut(l, "=")
		if !ok {
			return Config{}, fmt.Errorf("listen %q: want GROUP=ADDR", l)
		}
		if _, dup := cfg.Listen[policy.Group(g)]; dup {
			return Config{}, fmt.Errorf("listen: group %q given twice", g)
		}
		cfg.Listen[policy.Group(g)] = addr
	}
	for _, d := range deny {
		p, err := policy.ParsePrefix(d)
		if err != nil {
			return Config{}, fmt.Errorf("deny-cidr %q: want an address or CIDR", d)
		}
		cfg.DenyCIDRs = append(cfg.DenyCIDRs, p)
	}
	if relay != "" {
		var err error
		if cfg.CDPRelay, cfg.CDPTarget, err = ingress.ParseRelay(relay); err != nil {
			return Config{}, err
		}
	}
	for _, r := range routes {
		route, err := ingress.ParseRoute(r)
		if err != nil {
			return Config{}, err
		}
		cfg.Routes = append(cfg.Routes, route)
	}
	if cfg.DNSServer != "" {
		if _, _, err := net.SplitHostPort(cfg.DNSServer); err != nil {
			cfg.DNSServer = net.JoinHostPort(strings.Trim(cfg.DNSServer, "[]"), "53")
		}
	}
	return cfg, cfg.Validate()
}

// Validate reports every configuration problem at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Listen) == 0 && c.Ingress == "" && c.CDPRelay == "" {
		errs = append(errs, errors.New("nothing to serve: give --listen, --ingress and/or --cdp-relay"))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("--max-conns %d: want at least 1 (0: the default)", c.MaxConns))
	}
	groups := make([]string, 0, len(c.Listen))
	for g := range c.Listen {
		groups = append(groups, string(g))
	}
	slices.Sort(groups)
	for _, g := range groups {
		if !policy.Group(g).Valid() {
			errs = append(errs, fmt.Errorf("listen: unknown group %q, want workspace or browser", g))
		}
	}
	if len(c.Listen) > 0 {
		if c.DNSServer == "" {
			errs = append(errs, errors.New("dns: required with --listen"))
		}
		if c.PolicyFile == "" {
			errs = append(errs, errors.New("policy-file: required with --listen"))
		}
	}
	if (len(c.Listen) > 0 || c.SecretFile != "") && c.PolicyInterval <= 0 {
		errs = append(errs, errors.New("policy-interval: must be positive"))
	}
	if c.SecretFile != "" && c.Ingress == "" {
		errs = append(errs, errors.New("secret-file: given without --ingress"))
	}
	if len(c.Routes) > 0 && c.Ingress == "" {
		errs = append(errs, errors.New("route: given without --ingress"))
	}
	errs = append(errs, c.Log.Validate())
	return errors.Join(errs...)
}

// addrFilter allows public addresses outside every denied range.
func addrFilter(deny []netip.Prefix) func(netip.Addr) bool {
	return func(a netip.Addr) bool {
		if !policy.PublicAddr(a) {
			return false
		}
		for _, p := range deny {
			if p.Contains(a.Unmap()) {
				return false
			}
		}
		return true
	}
}
