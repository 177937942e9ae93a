package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"aileron.dev/pkg/config"
	"aileron.dev/services/workspace/agent"
	"aileron.dev/services/workspace/terminalui"
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
	// MaxTerminals bounds the terminals (shells on a PTY) kept at once.
	MaxTerminals int
	// TerminalBufferBytes is the replay buffer of each terminal.
	TerminalBufferBytes int
	// TerminalMaxFrameBytes is the largest WebSocket message a terminal
	// client may send.
	TerminalMaxFrameBytes int64
	// TerminalWriteTimeout drops a terminal client that takes no output
	// for this long (the shell keeps running).
	TerminalWriteTimeout time.Duration
	// AllowedOrigins are browser origin hosts (patterns) allowed besides
	// the daemon's own host.
	AllowedOrigins []string
	// Agents are the agents runs may start (agent.Default when unset).
	Agents agent.Set
	// XtermDir and XtermModulesDir are where Debian's libjs-xterm and
	// node-xterm are installed; the terminal page is built from them.
	XtermDir        string
	XtermModulesDir string
	// ActivityPeers are the base URLs of the workspace's other daemons
	// whose activity GET /v1/activity merges in (the terminal service).
	ActivityPeers []string
	// PreviewDenyPorts are ports a preview must not reach besides the
	// daemon's own (on Kubernetes, the terminal's in the same pod).
	PreviewDenyPorts []uint16
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
	fs.IntVar(&cfg.MaxTerminals, "max-terminals", 8, "most terminals kept at once")
	fs.IntVar(&cfg.TerminalBufferBytes, "terminal-buffer-bytes", 256<<10, "replay buffer of each terminal")
	fs.Int64Var(&cfg.TerminalMaxFrameBytes, "terminal-max-frame-bytes", 64<<10, "largest WebSocket message a terminal client may send")
	fs.DurationVar(&cfg.TerminalWriteTimeout, "terminal-write-timeout", 10*time.Second, "drop a terminal client that takes no output for this long")
	var agents string
	fs.StringVar(&agents, "agents", "", `agents a run may start: a JSON object of name to command line, "{prompt}" where the prompt goes, e.g. {"claude": ["claude", "-p", "{prompt}"]}; empty: claude and codex`)
	fs.StringVar(&cfg.XtermDir, "xterm-dir", terminalui.DefaultXtermDir, "Debian's libjs-xterm (xterm.css, addons) for the terminal page")
	fs.StringVar(&cfg.XtermModulesDir, "xterm-modules-dir", terminalui.DefaultXtermModulesDir, "Debian's node-xterm (lib/) for the terminal page")
	var origins config.List
	var peers, deny config.List
	fs.Var(&peers, "activity-peer", "base URL of another daemon of the workspace (the terminal service) whose activity GET /v1/activity merges in; repeatable")
	fs.Var(&deny, "preview-deny-port", "a port a preview through the front door must not reach besides the daemon's own (another daemon of the workspace in the same network namespace); repeatable")
	fs.Var(&origins, "allowed-origin", "a browser origin host pattern (path.Match, e.g. '*.apps.example.com') allowed besides the daemon's own host; repeatable")
	if err := fs.ParseEnv(args, getenv); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.AllowedOrigins = origins
	cfg.ActivityPeers = peers
	for _, d := range deny {
		n, err := strconv.ParseUint(d, 10, 16)
		if err != nil || n == 0 {
			return Config{}, fmt.Errorf("--preview-deny-port %q: want a port 1-65535", d)
		}
		cfg.PreviewDenyPorts = append(cfg.PreviewDenyPorts, uint16(n))
	}
	cfg.Agents = agent.Default
	if agents != "" {
		var err error
		if cfg.Agents, err = agent.Parse(agents); err != nil {
			return Config{}, fmt.Errorf("--agents: %w", err)
		}
	}
	return cfg, cfg.Validate()
}

// validOrigin refuses what path.Match cannot read and what would be a
// scheme or a path: an allowed origin is a host[:port] pattern.
func validOrigin(p string) error {
	if p == "" || strings.ContainsAny(p, "/ ") {
		return fmt.Errorf("--allowed-origin %q: want a host[:port] pattern such as '*.apps.example.com'", p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("--allowed-origin %q: %w", p, err)
	}
	return nil
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
		"--max-file-bytes": c.MaxFileBytes, "--max-terminals": int64(c.MaxTerminals),
		"--terminal-buffer-bytes": int64(c.TerminalBufferBytes), "--terminal-max-frame-bytes": c.TerminalMaxFrameBytes,
	} {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1", name)
		}
	}
	for name, d := range map[string]time.Duration{
		"--exec-timeout": c.ExecTimeout, "--max-exec-timeout": c.MaxExecTimeout,
		"--stall-timeout": c.StallTimeout, "--shutdown-timeout": c.ShutdownTimeout,
		"--terminal-write-timeout": c.TerminalWriteTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
	}
	if c.ExecTimeout > c.MaxExecTimeout {
		return errors.New("--exec-timeout must not exceed --max-exec-timeout")
	}
	for _, p := range c.ActivityPeers {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("--activity-peer %q: want a base URL such as http://terminal:8080", p)
		}
	}
	for _, o := range c.AllowedOrigins {
		if err := validOrigin(o); err != nil {
			return err
		}
	}
	return c.Log.Validate()
}
