// Package frontdoor is the one way into a workspace's services: an
// http.Handler the API's listener hands every request whose Host is
// <service>--<id>.<apps domain>, or <port>--<id>.<apps domain> for a preview
// of a port listening in the workspace's runtime. It authenticates the caller (the API's bearer
// token, or a session cookie a one-time ticket bought), checks the
// workspace's owner on every request and proxies, unbuffered and WebSockets
// included, to the service's internal endpoint with the workspace's ingress
// secret. Each (workspace, service) is an origin of its own, so nothing a
// workspace serves runs on the console's origin.
package frontdoor

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
)

// Config configures the front door.
type Config struct {
	// Domain is the apps domain: service <s> of workspace <id> is served at
	// <s>--<id>.<Domain>. "localhost" in dev (browsers resolve *.localhost to
	// loopback); a wildcard DNS name in production.
	Domain string
	// Scheme of the public URLs: http or https.
	Scheme string
	// Port of the public URLs; 0 means the API's own HTTP port, and the
	// scheme's default port is left out of URLs.
	Port int
	// TicketTTL bounds how long an unused ticket is good for.
	TicketTTL time.Duration
	// SessionTTL bounds a browser session on one service's origin.
	SessionTTL time.Duration
}

// Register adds the front door's flags, shared by `aileron dev` and the api
// binary, to fs (a config.Set reads each from its AILERON_* variable too:
// --apps-domain is AILERON_APPS_DOMAIN).
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Domain, "apps-domain", "localhost", "domain of the workspace services' origins: <service>--<id>.<apps-domain> (needs a wildcard DNS record and certificate in production)")
	fs.StringVar(&c.Scheme, "apps-scheme", "http", "scheme of the workspace services' public URLs: http or https")
	fs.IntVar(&c.Port, "apps-port", 0, "port of the workspace services' public URLs (0: the API's HTTP port)")
	fs.DurationVar(&c.TicketTTL, "apps-ticket-ttl", time.Minute, "how long an unused one-time link to a service (OpenWorkspaceService) stays good")
	fs.DurationVar(&c.SessionTTL, "apps-session-ttl", 8*time.Hour, "how long a browser session on a service's origin lasts")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Domain == "" || strings.ToLower(c.Domain) != c.Domain || strings.ContainsAny(c.Domain, ":/ ") || strings.HasPrefix(c.Domain, ".") || strings.HasSuffix(c.Domain, ".") {
		errs = append(errs, fmt.Errorf("--apps-domain %q: want a lower-case DNS name such as localhost or apps.example.com", c.Domain))
	}
	if c.Scheme != "http" && c.Scheme != "https" {
		errs = append(errs, fmt.Errorf("--apps-scheme %q: want http or https", c.Scheme))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("--apps-port %d: want 0-65535", c.Port))
	}
	if c.TicketTTL <= 0 || c.TicketTTL > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--apps-ticket-ttl %s: want more than 0 and at most 10m", c.TicketTTL))
	}
	if c.SessionTTL <= 0 {
		errs = append(errs, fmt.Errorf("--apps-session-ttl %s: want more than 0", c.SessionTTL))
	}
	return errors.Join(errs...)
}

// DefaultConfig is the dev configuration.
func DefaultConfig() Config {
	return Config{Domain: "localhost", Scheme: "http", TicketTTL: time.Minute, SessionTTL: 8 * time.Hour}
}

// hostSep separates the service from the workspace id in the first label.
const hostSep = "--"

// target is what a front-door host names: a service of a workspace, or a
// preview of a port listening in its runtime (<port>--<id>: service runtime,
// port set).
type target struct {
	service workspace.Service
	id      string
	port    uint16
}

// label is the first label of the target's host: the service, or the port.
func (t *target) label() string {
	if t.port != 0 {
		return strconv.Itoa(int(t.port))
	}
	return string(t.service)
}

// previewTarget is the target of a preview of port in workspace id.
func previewTarget(id string, port uint16) *target {
	return &target{service: workspace.ServiceRuntime, id: id, port: port}
}

// match reports whether host (with or without port) is on the apps domain
// and, if so, the service and workspace it names; ok with a nil target is a
// host on the apps domain that names nothing valid.
func (c Config) match(host string) (t *target, ours bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	label, found := strings.CutSuffix(host, "."+c.Domain)
	if !found || label == "" || strings.Contains(label, ".") {
		return nil, false
	}
	svc, id, ok := strings.Cut(label, hostSep)
	if !ok || orchestrator.ValidateID(id) != nil {
		return nil, true
	}
	if port, err := strconv.ParseUint(svc, 10, 16); err == nil && port > 0 && strconv.FormatUint(port, 10) == svc {
		return previewTarget(id, uint16(port)), true
	}
	if !workspace.Service(svc).Valid() {
		return nil, true
	}
	return &target{service: workspace.Service(svc), id: id}, true
}

// origin returns the public origin of a target, e.g.
// http://runtime--<id>.localhost:3001 or http://8000--<id>.localhost:3001,
// given the API's own HTTP port.
func (c Config) origin(t *target, apiPort int) string {
	port := c.Port
	if port == 0 {
		port = apiPort
	}
	host := t.label() + hostSep + t.id + "." + c.Domain
	if port != 0 && !(c.Scheme == "http" && port == 80) && !(c.Scheme == "https" && port == 443) {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return (&url.URL{Scheme: c.Scheme, Host: host}).String()
}
