package egress

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"aileron.dev/services/firewall/policy"
)

// Reasons reported in the X-Aileron-Egress-Denied / X-Aileron-Egress-Error
// headers and in the decision log.
const (
	ReasonAllowed         = "allowed"
	ReasonNetworkDisabled = "network-disabled"
	ReasonModeDeny        = "mode-deny"
	ReasonNotAllowed      = "domain-not-allowed"
	ReasonIPLiteral       = "ip-literal"
	ReasonInvalidHost     = "invalid-host"
	ReasonPort            = "port-not-allowed"
	ReasonNonPublicAddr   = "non-public-address"
	ReasonNotTLS          = "not-tls"
	ReasonSNIMissing      = "sni-missing"
	ReasonSNIMismatch     = "sni-mismatch"
	ReasonECH             = "ech-refused"
	ReasonHostMismatch    = "host-header-mismatch"
	ReasonBadRequest      = "bad-request"
	ReasonResolveFailed   = "resolve-failed"
	ReasonDialFailed      = "dial-failed"
	ReasonTooManyConns    = "too-many-connections"
)

// Headers naming why a request was refused: by policy (403) or for any other
// reason (400, 502).
const (
	HeaderDenied = "X-Aileron-Egress-Denied"
	HeaderError  = "X-Aileron-Egress-Error"
)

// Decision values in the log.
const (
	decisionAllow = "allow"
	decisionDeny  = "deny"
	decisionError = "error"
)

// allowedPorts are the only upstream ports the gateway connects to.
var allowedPorts = map[uint16]bool{443: true, 80: true}

// verdict is the outcome of checking one request against the policy.
type verdict struct {
	name   string       // normalised host
	port   uint16       // upstream port
	addrs  []netip.Addr // checked addresses, in dial order
	status int          // 0 when allowed
	reason string
}

func deny(status int, reason string) verdict { return verdict{status: status, reason: reason} }

// decide checks host:port against group g's policy, resolves the name and
// checks every answer. Only an allowed verdict carries addresses.
func (p *Proxy) decide(ctx context.Context, g policy.Group, host string, port uint16) verdict {
	if !allowedPorts[port] {
		return deny(http.StatusForbidden, ReasonPort)
	}
	if policy.IsIPLiteral(host) {
		return deny(http.StatusForbidden, ReasonIPLiteral)
	}
	name, err := policy.Normalize(host)
	if err != nil || strings.HasPrefix(name, "*.") {
		return deny(http.StatusForbidden, ReasonInvalidHost)
	}
	if reason := refusal(p.Policies().For(g), name); reason != "" {
		return deny(http.StatusForbidden, reason)
	}
	rctx, cancel := context.WithTimeout(ctx, p.opts.timeouts.Resolve)
	defer cancel()
	// The trailing dot makes the name absolute: no search domains are tried.
	addrs, err := p.opts.resolver.LookupNetIP(rctx, "ip", name+".")
	if err != nil || len(addrs) == 0 {
		return verdict{name: name, port: port, status: http.StatusBadGateway, reason: ReasonResolveFailed}
	}
	for _, a := range addrs {
		if !p.opts.filter(a) {
			return verdict{name: name, port: port, addrs: addrs, status: http.StatusForbidden, reason: ReasonNonPublicAddr}
		}
	}
	return verdict{name: name, port: port, addrs: addrs, reason: ReasonAllowed}
}

// refusal is why policy eff refuses the normalised name, "" when it allows it.
func refusal(eff policy.Effective, name string) string {
	switch {
	case !eff.NetworkAccessEnabled:
		return ReasonNetworkDisabled
	case eff.Mode == policy.ModeDeny:
		return ReasonModeDeny
	case !eff.Allows(name):
		return ReasonNotAllowed
	}
	return ""
}

// dial connects to the first reachable checked address; it never resolves.
func (p *Proxy) dial(ctx context.Context, v verdict) (net.Conn, netip.AddrPort, error) {
	var lastErr error
	for _, a := range v.addrs {
		ap := netip.AddrPortFrom(a, v.port)
		dctx, cancel := context.WithTimeout(ctx, p.opts.timeouts.Dial)
		c, err := p.opts.dial(dctx, ap)
		cancel()
		if err == nil {
			return c, ap, nil
		}
		lastErr = err
	}
	return nil, netip.AddrPort{}, fmt.Errorf("dial %s: %w", v.name, lastErr)
}

// logDecision records one decision; the message is static, everything else
// is an attribute.
func (p *Proxy) logDecision(ctx context.Context, g policy.Group, client net.Addr, method, host string, v verdict, dialed netip.AddrPort) {
	decision := decisionAllow
	switch {
	case v.status == http.StatusForbidden:
		decision = decisionDeny
	case v.status != 0:
		decision = decisionError
	}
	attrs := []slog.Attr{
		slog.String("group", string(g)),
		slog.String("host", host),
		slog.Int("port", int(v.port)),
		slog.String("method", method),
		slog.String("decision", decision),
		slog.String("reason", v.reason),
		slog.String("client", addrString(client)),
	}
	if len(v.addrs) > 0 {
		attrs = append(attrs, slog.Any("resolved", v.addrs))
	}
	if dialed.IsValid() {
		attrs = append(attrs, slog.String("upstream", dialed.String()))
	}
	p.opts.log.LogAttrs(ctx, slog.LevelInfo, "egress decision", attrs...)
	p.opts.metrics.decided(g, decision, v.reason)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// writeRefusal answers a refused request and asks the client to close.
func writeRefusal(w io.Writer, status int, reason string) {
	header := HeaderError
	if status == http.StatusForbidden {
		header = HeaderDenied
	}
	body := "aileron egress gateway: " + reason + "\n"
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n%s: %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), header, reason, len(body), body)
}

// splitHostPort splits an authority, defaulting the port for plain HTTP.
func splitHostPort(authority string, defaultPort uint16) (string, uint16, error) {
	host, portStr, err := net.SplitHostPort(authority)
	if err != nil {
		if defaultPort == 0 || strings.Contains(authority, "]:") {
			return "", 0, fmt.Errorf("split %q: %w", authority, err)
		}
		return strings.TrimSuffix(strings.TrimPrefix(authority, "["), "]"), defaultPort, nil
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("invalid port in %q", authority)
	}
	return host, uint16(port), nil
}
