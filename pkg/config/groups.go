package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
)

// NATS is how a service reaches NATS JetStream: --nats-url, --nats-creds,
// --replicas and the stream bounds.
type NATS struct {
	// URL is one or more NATS URLs, comma-separated.
	URL string
	// Creds is a NATS credentials file; empty connects without.
	Creds string
	// Replicas of the stream and buckets: 1 on a single server, 3 on a
	// cluster; every service must use the api's value.
	Replicas int
	// StreamMaxBytes and AuditMaxBytes bound the event and audit streams
	// (bus.SetupConfig); 0 is bus's default. Every service must use the
	// api's values.
	StreamMaxBytes, AuditMaxBytes int64
}

// DefaultNATS is a local NATS server with one replica.
func DefaultNATS() NATS { return NATS{URL: "nats://127.0.0.1:4222", Replicas: 1} }

// Register adds the NATS flags to s, with n's values as their defaults.
func (n *NATS) Register(s *Set) {
	s.StringVar(&n.URL, "nats-url", n.URL, "NATS URL(s), comma-separated")
	s.StringVar(&n.Creds, "nats-creds", n.Creds, "NATS credentials file")
	s.IntVar(&n.Replicas, "replicas", n.Replicas, "JetStream stream and bucket replicas (3 on a cluster); the same in every service")
	s.Int64Var(&n.StreamMaxBytes, "stream-max-bytes", n.StreamMaxBytes, "bytes of the event stream AILERON (0: 4 GiB); the same in every service")
	s.Int64Var(&n.AuditMaxBytes, "audit-max-bytes", n.AuditMaxBytes, "bytes of the audit stream AILERON_AUDIT (0: 1 GiB); the same in every service")
}

// Validate names the first flag with a bad value.
func (n NATS) Validate() error {
	if n.URL == "" {
		return errors.New("--nats-url is required")
	}
	if n.Replicas < 1 || n.Replicas > 5 {
		return errors.New("--replicas must be between 1 and 5")
	}
	if n.StreamMaxBytes < 0 {
		return errors.New("--stream-max-bytes must not be negative")
	}
	if n.AuditMaxBytes < 0 {
		return errors.New("--audit-max-bytes must not be negative")
	}
	return nil
}

// Log formats.
const (
	// FormatJSON is for production: one JSON object a line.
	FormatJSON = "json"
	// FormatText is for people: `aileron dev` and local runs.
	FormatText = "text"
)

// Log is how a binary logs: --log-level and --log-format.
type Log struct {
	// Level is the lowest level written.
	Level slog.Level
	// Format is FormatJSON or FormatText.
	Format string
}

// DefaultLog is info level in JSON, the production default.
func DefaultLog() Log { return Log{Level: slog.LevelInfo, Format: FormatJSON} }

// Register adds the logging flags to s, with l's values as their defaults.
func (l *Log) Register(s *Set) {
	s.TextVar(&l.Level, "log-level", l.Level, "debug, info, warn or error")
	s.StringVar(&l.Format, "log-format", l.Format, "json or text")
}

// Validate checks the format; the flag parser already checked the level.
func (l Log) Validate() error {
	if l.Format != FormatJSON && l.Format != FormatText {
		return fmt.Errorf("--log-format %q: want json or text", l.Format)
	}
	return nil
}

// Logger builds the logger the configuration asks for, writing to w.
func (l Log) Logger(w io.Writer) *slog.Logger {
	return NewLogger(w, l.Level, l.Format)
}

// NewLogger builds the slog logger every binary uses: JSON, or text when
// format is FormatText. Levels below info are written plain "DEBUG": logr's
// verbosity levels (controller-runtime, client-go) map to slog levels such
// as -1, which slog would print as "DEBUG+3", a level log pipelines don't
// know. A record logged with the context of a traced request carries its
// trace_id and span_id.
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: plainLevels}
	if format == FormatText {
		return slog.New(traceHandler{slog.NewTextHandler(w, opts)})
	}
	return slog.New(traceHandler{slog.NewJSONHandler(w, opts)})
}

func plainLevels(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l < slog.LevelInfo {
			a.Value = slog.StringValue(slog.LevelDebug.String())
		}
	}
	return a
}

// Health is the address of a service's /healthz and /readyz: --health-addr.
type Health struct {
	// Addr is host:port; empty turns the endpoints off.
	Addr string
}

// Register adds the health flag to s, with h's value as its default.
func (h *Health) Register(s *Set) {
	s.StringVar(&h.Addr, "health-addr", h.Addr, "address of /healthz and /readyz; empty turns them off")
}

// Validate checks that the address is empty or host:port.
func (h Health) Validate() error {
	if h.Addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(h.Addr); err != nil {
		return fmt.Errorf("--health-addr %q: want host:port or empty: %w", h.Addr, err)
	}
	return nil
}
