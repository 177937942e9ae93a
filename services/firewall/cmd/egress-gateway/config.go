package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"aileron.dev/services/firewall/ingress"
	"aileron.dev/services/firewall/policy"
)

// Config is the gateway's whole configuration, from flags or EGRESS_* env.
type Config struct {
	// Listen maps each group to its proxy listen address.
	Listen map[policy.Group]string
	// Ingress is the published ingress listen address ("" for none).
	Ingress string
	// Routes are the ingress path routes.
	Routes []ingress.Route
	// PolicyFile is the JSON policy file, watched for changes.
	PolicyFile string
	// PolicyInterval is how often the policy file is checked.
	PolicyInterval time.Duration
	// DNSServer is the host:port every egress name is resolved with.
	DNSServer string
	// LogFormat is "json" or "text".
	LogFormat string
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration
	// DenyCIDRs are refused on top of every non-public range, e.g. the
	// addresses of the host the gateway runs on.
	DenyCIDRs []netip.Prefix
}

// listFlag collects a repeatable flag; the first use replaces env defaults.
type listFlag struct {
	values []string
	set    bool
}

// String joins the values for flag defaults.
func (l *listFlag) String() string { return strings.Join(l.values, ",") }

// Set adds one value.
func (l *listFlag) Set(v string) error {
	if !l.set {
		l.values, l.set = nil, true
	}
	l.values = append(l.values, v)
	return nil
}

func envList(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseConfig reads env defaults, then flags from args.
func parseConfig(args []string) (Config, error) {
	fs := flag.NewFlagSet("egress-gateway", flag.ContinueOnError)
	listen := &listFlag{values: envList("EGRESS_LISTEN")}
	routes := &listFlag{values: envList("EGRESS_ROUTES")}
	deny := &listFlag{values: envList("EGRESS_DENY_CIDRS")}
	fs.Var(deny, "deny-cidr", "an address range never dialed even when public, repeatable (env EGRESS_DENY_CIDRS, comma-separated), e.g. the host's own address")
	fs.Var(listen, "listen", "proxy listener GROUP=ADDR, repeatable (env EGRESS_LISTEN, comma-separated), e.g. workspace=:3128")
	fs.Var(routes, "route", "ingress route /PREFIX/=HOST:PORT, repeatable (env EGRESS_ROUTES, comma-separated)")
	var cfg Config
	fs.StringVar(&cfg.Ingress, "ingress", envOr("EGRESS_INGRESS", ""), "ingress listen address (env EGRESS_INGRESS)")
	fs.StringVar(&cfg.PolicyFile, "policy-file", envOr("EGRESS_POLICY_FILE", ""), "policy JSON file (env EGRESS_POLICY_FILE)")
	fs.StringVar(&cfg.DNSServer, "dns", envOr("EGRESS_DNS", ""), "DNS server HOST[:PORT] for egress names (env EGRESS_DNS)")
	fs.StringVar(&cfg.LogFormat, "log-format", envOr("EGRESS_LOG_FORMAT", "json"), "json or text (env EGRESS_LOG_FORMAT)")
	interval, err := time.ParseDuration(envOr("EGRESS_POLICY_INTERVAL", "1s"))
	if err != nil {
		return Config{}, fmt.Errorf("EGRESS_POLICY_INTERVAL: %w", err)
	}
	fs.DurationVar(&cfg.PolicyInterval, "policy-interval", interval, "policy file check interval (env EGRESS_POLICY_INTERVAL)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to drain connections on shutdown")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Listen = map[policy.Group]string{}
	for _, l := range listen.values {
		g, addr, ok := strings.Cut(l, "=")
		if !ok {
			return Config{}, fmt.Errorf("listen %q: want GROUP=ADDR", l)
		}
		if _, dup := cfg.Listen[policy.Group(g)]; dup {
			return Config{}, fmt.Errorf("listen: group %q given twice", g)
		}
		cfg.Listen[policy.Group(g)] = addr
	}
	for _, d := range deny.values {
		p, err := netip.ParsePrefix(d)
		if err != nil {
			if a, aerr := netip.ParseAddr(d); aerr == nil {
				p, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil {
			return Config{}, fmt.Errorf("deny-cidr %q: want an address or CIDR", d)
		}
		cfg.DenyCIDRs = append(cfg.DenyCIDRs, p.Masked())
	}
	for _, r := range routes.values {
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
	if len(c.Listen) == 0 && c.Ingress == "" {
		errs = append(errs, errors.New("nothing to serve: give --listen and/or --ingress"))
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
		if c.PolicyInterval <= 0 {
			errs = append(errs, errors.New("policy-interval: must be positive"))
		}
	}
	if len(c.Routes) > 0 && c.Ingress == "" {
		errs = append(errs, errors.New("route: given without --ingress"))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("log-format: %q, want json or text", c.LogFormat))
	}
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
