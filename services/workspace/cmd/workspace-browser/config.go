package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"time"

	"aileron.dev/pkg/config"
	"aileron.dev/services/workspace/browser"
)

// Config is the browser daemon's configuration: flags, each also set by
// its AILERON_* variable (--addr is AILERON_ADDR). --proxy falls back to
// HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy.
type Config struct {
	// Addr is where the daemon listens.
	Addr string
	Log  config.Log
	// Chromium is the browser's executable.
	Chromium string
	// Proxy is the egress proxy every request of Chromium goes through.
	Proxy string
	// DataDir is where Chromium's throw-away profiles are made.
	DataDir string
	// WindowSize is the viewport, width,height.
	WindowSize string
	// DiskCacheBytes caps Chromium's HTTP cache.
	DiskCacheBytes int64
	// MaxMessageBytes caps one WebSocket message.
	MaxMessageBytes int64
	// MaxConnections bounds the DevTools and screencast WebSockets.
	MaxConnections int
	// MessagesPerSecond paces each DevTools client.
	MessagesPerSecond int
	// MaxBodyBytes caps a JSON request body.
	MaxBodyBytes int64
	// WriteTimeout drops a WebSocket client that takes nothing this long.
	WriteTimeout time.Duration
	// CheckInterval, CheckTimeout and StartTimeout pace the health check.
	CheckInterval, CheckTimeout, StartTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a restart.
	MinBackoff, MaxBackoff time.Duration
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration
}

func parseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := config.NewSet("workspace-browser", config.Prefix)
	cfg := Config{Log: config.DefaultLog()}
	fs.StringVar(&cfg.Addr, "addr", ":8080", "listen address of the DevTools endpoints, the API and the preview page")
	cfg.Log.Register(fs)
	fs.StringVar(&cfg.Chromium, "chromium", "", "Chromium's executable; empty: the first of "+fmt.Sprint(browser.DefaultBinaries))
	fs.StringVar(&cfg.Proxy, "proxy", "", "egress proxy URL for all of Chromium's traffic (Chromium then resolves no name itself)")
	fs.SetEnv("proxy", config.EnvName(config.Prefix, "proxy"), "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
	fs.StringVar(&cfg.DataDir, "data-dir", os.TempDir(), "where Chromium's throw-away profile is made (a tmpfs)")
	fs.StringVar(&cfg.WindowSize, "window-size", "1280,800", "Chromium's viewport, width,height")
	fs.Int64Var(&cfg.DiskCacheBytes, "disk-cache-bytes", 32<<20, "cap of Chromium's HTTP cache, kept in --data-dir")
	fs.Int64Var(&cfg.MaxMessageBytes, "max-message-bytes", 16<<20, "largest WebSocket message either way")
	fs.IntVar(&cfg.MaxConnections, "max-connections", 16, "most DevTools and screencast WebSockets open at once")
	fs.IntVar(&cfg.MessagesPerSecond, "messages-per-second", 1000, "pace of each DevTools client's messages (a burst of as many); faster clients wait")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", 1<<20, "cap of a JSON request body")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", 10*time.Second, "drop a WebSocket client that takes nothing for this long")
	fs.DurationVar(&cfg.CheckInterval, "check-interval", 5*time.Second, "how often Chromium's /json/version is checked")
	fs.DurationVar(&cfg.CheckTimeout, "check-timeout", 3*time.Second, "how long a check may take; two failures in a row restart Chromium")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", 30*time.Second, "how long a start may take until Chromium answers")
	fs.DurationVar(&cfg.MinBackoff, "min-backoff", 500*time.Millisecond, "first wait before a restart")
	fs.DurationVar(&cfg.MaxBackoff, "max-backoff", 30*time.Second, "longest wait before a restart")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to drain on SIGTERM")
	if err := fs.ParseEnv(args, getenv); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.Chromium == "" {
		var err error
		if cfg.Chromium, err = browser.FindBinary(); err != nil {
			return Config{}, fmt.Errorf("--chromium: %w", err)
		}
	}
	return cfg, cfg.Validate()
}

var windowSize = regexp.MustCompile(`^[1-9][0-9]{1,4},[1-9][0-9]{1,4}$`)

// Validate names the first flag with a bad value.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("--addr %q: want host:port: %w", c.Addr, err)
	}
	if c.Proxy != "" {
		if _, err := browser.ParseProxy(c.Proxy); err != nil {
			return fmt.Errorf("--proxy: %w", err)
		}
	}
	if !windowSize.MatchString(c.WindowSize) {
		return fmt.Errorf("--window-size %q: want width,height such as 1280,800", c.WindowSize)
	}
	for name, v := range map[string]int64{
		"--max-message-bytes": c.MaxMessageBytes, "--max-connections": int64(c.MaxConnections),
		"--messages-per-second": int64(c.MessagesPerSecond), "--max-body-bytes": c.MaxBodyBytes,
		"--disk-cache-bytes": c.DiskCacheBytes,
	} {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1", name)
		}
	}
	for name, d := range map[string]time.Duration{
		"--write-timeout": c.WriteTimeout, "--check-interval": c.CheckInterval, "--check-timeout": c.CheckTimeout,
		"--start-timeout": c.StartTimeout, "--min-backoff": c.MinBackoff, "--max-backoff": c.MaxBackoff,
		"--shutdown-timeout": c.ShutdownTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	if c.MinBackoff > c.MaxBackoff {
		return fmt.Errorf("--min-backoff must not exceed --max-backoff")
	}
	if c.DataDir == "" {
		return fmt.Errorf("--data-dir is required")
	}
	return c.Log.Validate()
}

// Supervisor is the supervisor's part of the configuration.
func (c Config) Supervisor(starter browser.Starter, log *slog.Logger) browser.Options {
	return browser.Options{
		Binary: c.Chromium, Proxy: c.Proxy, DataDir: c.DataDir, WindowSize: c.WindowSize, DiskCacheBytes: c.DiskCacheBytes,
		CheckInterval: c.CheckInterval, CheckTimeout: c.CheckTimeout, StartTimeout: c.StartTimeout,
		MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff, Starter: starter, Log: log,
	}
}

// Limits is the server's part of the configuration.
func (c Config) Limits() browser.Limits {
	return browser.Limits{
		MaxMessageBytes: c.MaxMessageBytes, MaxConns: c.MaxConnections, MessagesPerSecond: c.MessagesPerSecond,
		MaxBodyBytes: c.MaxBodyBytes, WriteTimeout: c.WriteTimeout,
	}
}
