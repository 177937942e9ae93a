package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"aileron.dev/pkg/config"
	"aileron.dev/services/workspace/canvas"
)

// Config is the canvas daemon's configuration: flags, each also set by its
// AILERON_* variable (--runtime-url is AILERON_RUNTIME_URL).
type Config struct {
	// Addr is where the canvas listens.
	Addr string
	// RuntimeURL is the base URL of the workspace's runtime daemon, whose
	// files API the canvas reads through.
	RuntimeURL string
	// Dir is the canvas folder, relative to the workspace root.
	Dir string
	// MaxFileBytes caps a file served or rendered.
	MaxFileBytes int64
	// MaxClients bounds the live-reload streams open at once.
	MaxClients int
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration
	Log             config.Log
}

func parseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := config.NewSet("workspace-canvas", config.Prefix)
	cfg := Config{Log: config.DefaultLog()}
	fs.StringVar(&cfg.Addr, "addr", ":8080", "listen address")
	fs.StringVar(&cfg.RuntimeURL, "runtime-url", "", "base URL of the workspace's runtime daemon, e.g. http://runtime:8080 (required)")
	fs.StringVar(&cfg.Dir, "dir", "canvas", "the canvas folder, relative to the workspace root")
	fs.Int64Var(&cfg.MaxFileBytes, "max-file-bytes", 32<<20, "cap of a file served or a Markdown file rendered")
	fs.IntVar(&cfg.MaxClients, "max-clients", 64, "most live-reload streams open at once")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to drain on SIGTERM")
	cfg.Log.Register(fs)
	if err := fs.ParseEnv(args, getenv); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, cfg.Validate()
}

// Validate names the first flag with a bad value.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port: %w", c.Addr, err)
	}
	if c.RuntimeURL == "" {
		return errors.New("--runtime-url is required: the base URL of the workspace's runtime daemon, e.g. http://runtime:8080")
	}
	if u, err := url.Parse(c.RuntimeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("--runtime-url %q: want a base URL such as http://runtime:8080", c.RuntimeURL)
	}
	if _, err := canvas.CleanDir(c.Dir); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	if c.MaxFileBytes < 1 {
		return errors.New("--max-file-bytes must be at least 1")
	}
	if c.MaxClients < 1 {
		return errors.New("--max-clients must be at least 1")
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("--shutdown-timeout must be positive")
	}
	return c.Log.Validate()
}
