package main

import (
	"errors"
	"fmt"
	"net"
	"time"

	"aileron.dev/pkg/config"
)

// Config is the runtime daemon's configuration: flags, each also set by its
// AILERON_* variable (--root is AILERON_ROOT).
type Config struct {
	// Addr is where the API listens.
	Addr string
	// Root is the directory the files API is confined to and the default
	// working directory of commands.
	Root string
	Log  config.Log
	// MaxExecs and MaxSessions bound the processes callers can start.
	MaxExecs    int
	MaxSessions int
	// SessionBufferBytes is the replay buffer of each session.
	SessionBufferBytes int
	// MaxBodyBytes caps a JSON request body.
	MaxBodyBytes int64
	// MaxFileBytes caps a file read or write.
	MaxFileBytes int64
	// ExecTimeout and MaxExecTimeout are an exec's default and longest timeout.
	ExecTimeout    time.Duration
	MaxExecTimeout time.Duration
	// StallTimeout ends a stream whose reader took nothing for this long.
	StallTimeout time.Duration
	// ShutdownTimeout bounds draining on SIGTERM.
	ShutdownTimeout time.Duration
}

func parseConfig(args []string, getenv func(string) string) (Config, error) {
	fs := config.NewSet("workspace-runtime", config.Prefix)
	cfg := Config{Log: config.DefaultLog()}
	fs.StringVar(&cfg.Addr, "addr", ":8080", "API listen address")
	fs.StringVar(&cfg.Root, "root", "/workspace", "workspace root: files are confined to it, commands start in it")
	cfg.Log.Register(fs)
	fs.IntVar(&cfg.MaxExecs, "max-execs", 16, "most execs running at once")
	fs.IntVar(&cfg.MaxSessions, "max-sessions", 32, "most sessions kept, running or exited")
	fs.IntVar(&cfg.SessionBufferBytes, "session-buffer-bytes", 1<<20, "replay buffer of each session")
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", 1<<20, "cap of a JSON request body")
	fs.Int64Var(&cfg.MaxFileBytes, "max-file-bytes", 256<<20, "cap of a file read or write")
	fs.DurationVar(&cfg.ExecTimeout, "exec-timeout", 10*time.Minute, "an exec's timeout when the request names none")
	fs.DurationVar(&cfg.MaxExecTimeout, "max-exec-timeout", 2*time.Hour, "the longest timeout an exec may ask for")
	fs.DurationVar(&cfg.StallTimeout, "stall-timeout", 30*time.Second, "end a stream whose reader took nothing for this long")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to drain on SIGTERM")
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
	if c.Root == "" {
		return errors.New("--root is required")
	}
	for name, v := range map[string]int64{
		"--max-execs": int64(c.MaxExecs), "--max-sessions": int64(c.MaxSessions),
		"--session-buffer-bytes": int64(c.SessionBufferBytes), "--max-body-bytes": c.MaxBodyBytes,
		"--max-file-bytes": c.MaxFileBytes,
	} {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1", name)
		}
	}
	for name, d := range map[string]time.Duration{
		"--exec-timeout": c.ExecTimeout, "--max-exec-timeout": c.MaxExecTimeout,
		"--stall-timeout": c.StallTimeout, "--shutdown-timeout": c.ShutdownTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	if c.ExecTimeout > c.MaxExecTimeout {
		return errors.New("--exec-timeout must not exceed --max-exec-timeout")
	}
	return c.Log.Validate()
}
