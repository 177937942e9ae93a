package bus

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"
)

// CredsOption returns the NATS option for a credentials file ("" for none).
func CredsOption(path string) []nats.Option {
	if path == "" {
		return nil
	}
	return []nats.Option{nats.UserCredentials(path)}
}

// Logger builds the slog logger every service uses: JSON in production, text
// for `aileron dev`.
func Logger(level string, json bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}
