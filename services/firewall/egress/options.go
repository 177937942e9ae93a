package egress

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"aileron.dev/services/firewall/policy"
)

// Resolver looks up the addresses of a name; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc opens a TCP connection to exactly addr.
type DialFunc func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)

// Timeouts bound each phase of a proxied connection. Zero fields take the
// defaults of DefaultTimeouts.
type Timeouts struct {
	// Resolve bounds one name resolution.
	Resolve time.Duration
	// Dial bounds connecting to one upstream address.
	Dial time.Duration
	// Handshake bounds reading a request head and the TLS ClientHello.
	Handshake time.Duration
	// KeepAlive bounds the wait for the next request on a client connection.
	KeepAlive time.Duration
	// Idle closes a tunnel or a response transfer with no traffic either way.
	Idle time.Duration
}

// DefaultTimeouts are the production timeouts.
var DefaultTimeouts = Timeouts{
	Resolve:   5 * time.Second,
	Dial:      10 * time.Second,
	Handshake: 10 * time.Second,
	KeepAlive: 90 * time.Second,
	Idle:      10 * time.Minute,
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	return Timeouts{
		Resolve:   cmp.Or(t.Resolve, d.Resolve),
		Dial:      cmp.Or(t.Dial, d.Dial),
		Handshake: cmp.Or(t.Handshake, d.Handshake),
		KeepAlive: cmp.Or(t.KeepAlive, d.KeepAlive),
		Idle:      cmp.Or(t.Idle, d.Idle),
	}
}

type options struct {
	resolver Resolver
	filter   func(netip.Addr) bool
	dial     DialFunc
	log      *slog.Logger
	timeouts Timeouts
	maxConns int
	metrics  *Metrics
}

// DefaultMaxConns caps a proxy's open client connections (both groups).
const DefaultMaxConns = 1024

// Option configures a Proxy.
type Option func(*options)

// WithResolver sets the resolver; production passes NewResolver(dnsServer).
// The default is net.DefaultResolver.
func WithResolver(r Resolver) Option { return func(o *options) { o.resolver = r } }

// WithAddrFilter replaces policy.PublicAddr as the check every resolved
// address must pass. It exists for tests whose fake internet lives on
// loopback; production never sets it.
func WithAddrFilter(f func(netip.Addr) bool) Option { return func(o *options) { o.filter = f } }

// WithDialFunc replaces the TCP dialer. It only ever receives addresses that
// passed the policy and the address filter.
func WithDialFunc(d DialFunc) Option { return func(o *options) { o.dial = d } }

// WithLogger sets the logger for decisions; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMaxConns caps the open client connections; beyond it a new one is
// answered 503 (too-many-connections) and closed. 0 keeps DefaultMaxConns.
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// WithTimeouts sets the timeouts; zero fields keep their defaults.
func WithTimeouts(t Timeouts) Option { return func(o *options) { o.timeouts = t } }

func buildOptions(opts []Option) options {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	o.timeouts = o.timeouts.withDefaults()
	o.maxConns = cmp.Or(o.maxConns, DefaultMaxConns)
	if o.resolver == nil {
		o.resolver = net.DefaultResolver
	}
	if o.filter == nil {
		o.filter = policy.PublicAddr
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.dial == nil {
		d := &net.Dialer{Timeout: o.timeouts.Dial}
		o.dial = func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr.String())
		}
	}
	return o
}

// NewResolver returns a resolver that sends every query to server
// ("host:port", UDP with TCP fallback) instead of the system's name servers.
// Names in the gateway's own /etc/hosts are still consulted by Go's resolver;
// they only hold loopback and the container's own private address, which the
// address filter refuses.
func NewResolver(server string) *net.Resolver {
	return &net.Resolver{
		PreferGo:     true,
		StrictErrors: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}
}
