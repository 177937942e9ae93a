package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// State is Chromium's state as the supervisor sees it.
type State string

// The supervisor's states.
const (
	StateStarting   State = "starting"   // first start, not answering yet
	StateRunning    State = "running"    // answering /json/version
	StateRestarting State = "restarting" // exited or hung; starting again after a backoff
	StateStopped    State = "stopped"    // the daemon is shutting down
)

// failuresBeforeRestart is how many health checks in a row may fail before
// Chromium counts as hung: one slow answer on a busy host is not a hang.
const failuresBeforeRestart = 2

// Starter starts a command and is told when it was waited for: the
// reaper, so a PID 1 daemon never steals Chromium's exit status.
type Starter interface {
	Start(cmd *exec.Cmd) error
	Done(pid int)
}

// Options configure the supervisor.
type Options struct {
	// Binary is Chromium's executable.
	Binary string
	// Proxy is the egress proxy URL (scheme://host:port), or "" for none.
	Proxy string
	// DataDir is where each start's throw-away profile is made.
	DataDir string
	// WindowSize is the viewport, "width,height".
	WindowSize string
	// DiskCacheBytes caps Chromium's HTTP cache in the profile (a tmpfs).
	DiskCacheBytes int64
	// CheckInterval and CheckTimeout pace and bound the /json/version check.
	CheckInterval, CheckTimeout time.Duration
	// StartTimeout bounds a start until Chromium answers.
	StartTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a restart.
	MinBackoff, MaxBackoff time.Duration
	// Starter starts Chromium (nil: os/exec directly).
	Starter Starter
	Log     *slog.Logger
}

// Status is what GET /v1/status reports.
type Status struct {
	State State `json:"state"`
	// Restarts counts the starts after the first.
	Restarts int `json:"restarts"`
	// LastExit is why the last Chromium ended, if one did.
	LastExit string `json:"last_exit,omitempty"`
	// Version is Chromium's "Browser" of /json/version.
	Version string `json:"version,omitempty"`
	// PID is the running Chromium's process id.
	PID int `json:"pid,omitempty"`
}

// Supervisor runs Chromium, checks it answers and restarts it when it
// exits or hangs.
type Supervisor struct {
	opts   Options
	client *http.Client
	mu     sync.Mutex // guards st, addr
	st     Status
	addr   string // Chromium's DevTools host:port while running
}

// NewSupervisor returns a supervisor that has not started Chromium.
func NewSupervisor(o Options) *Supervisor {
	// No proxy: DevTools is on loopback, whatever HTTPS_PROXY says.
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	return &Supervisor{opts: o, client: &http.Client{Transport: tr}, st: Status{State: StateStarting}}
}

// Status returns the current status.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Addr is Chromium's DevTools host:port, or "" when it is not running.
func (s *Supervisor) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Args are Chromium's command-line arguments for a profile in dir.
func (o Options) Args(dir string) ([]string, error) {
	args := []string{
		"--headless", "--no-sandbox",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir=" + dir,
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-quic", "--force-webrtc-ip-handling-policy=disable_non_proxied_udp", "--dns-prefetch-disable",
		"--disable-breakpad", "--disable-component-update", "--disable-sync", "--mute-audio",
		"--window-size=" + o.WindowSize, "--disk-cache-size=" + strconv.FormatInt(o.DiskCacheBytes, 10),
	}
	if o.Proxy != "" {
		u, err := ParseProxy(o.Proxy)
		if err != nil {
			return nil, err
		}
		// Chromium resolves no name itself: every request goes to the
		// proxy by name, and only the proxy's own name may be looked up.
		args = append(args, "--proxy-server="+u.Scheme+"://"+u.Host,
			"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE "+u.Hostname())
	}
	return append(args, "about:blank"), nil
}

// ParseProxy reads a proxy URL as HTTPS_PROXY holds it: http, https or
// socks5 with a host and port; no path or credentials (Chromium's
// --proxy-server takes none).
func ParseProxy(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("proxy %q: %w", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5":
		return nil, fmt.Errorf("proxy %q: want an http, https or socks5 URL", s)
	case u.Hostname() == "" || u.Port() == "":
		return nil, fmt.Errorf("proxy %q: want host:port", s)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		return nil, fmt.Errorf("proxy %q: want scheme://host:port and nothing else", s)
	}
	return u, nil
}

// Run keeps Chromium running until ctx ends, then kills it.
func (s *Supervisor) Run(ctx context.Context) {
	backoff := s.opts.MinBackoff
	for {
		started := time.Now()
		reason := s.runOnce(ctx)
		s.mu.Lock()
		s.addr, s.st.PID = "", 0
		if ctx.Err() != nil {
			s.st.State = StateStopped
			s.mu.Unlock()
			return
		}
		s.st.State, s.st.LastExit = StateRestarting, reason
		s.st.Restarts++
		s.mu.Unlock()
		if time.Since(started) > 10*s.opts.MaxBackoff {
			backoff = s.opts.MinBackoff // it ran well for a while: not a crash loop
		}
		s.opts.Log.Warn("chromium ended, restarting", slog.String("reason", reason), slog.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			s.setState(StateStopped)
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
}

func (s *Supervisor) setState(st State) {
	s.mu.Lock()
	s.st.State = st
	s.mu.Unlock()
}

// runOnce starts one Chromium, watches it and returns why it ended; its
// whole process group is dead by then.
func (s *Supervisor) runOnce(ctx context.Context) string {
	dir, err := os.MkdirTemp(s.opts.DataDir, "chromium-")
	if err != nil {
		return "make profile directory: " + err.Error()
	}
	defer os.RemoveAll(dir)
	p, err := s.start(dir)
	if err != nil {
		return "start: " + err.Error()
	}
	defer p.kill()
	s.opts.Log.Info("chromium started", slog.Int("pid", p.pid), slog.String("binary", s.opts.Binary))

	addr, version, err := s.awaitReady(ctx, dir, p)
	if err != nil {
		return err.Error()
	}
	s.mu.Lock()
	s.addr, s.st.State, s.st.Version, s.st.PID = addr, StateRunning, version, p.pid
	s.mu.Unlock()
	s.opts.Log.Info("chromium ready", slog.String("devtools", addr), slog.String("version", version))
	return s.watch(ctx, addr, p)
}

// process is one started Chromium.
type process struct {
	pid  int
	done chan struct{} // closed once waited for
	err  error         // Wait's result, once done
}

// start starts Chromium with a profile in dir, in its own process group
// (so one kill ends the renderers and the zygote too), dying with the
// daemon.
func (s *Supervisor) start(dir string) (*process, error) {
	args, err := s.opts.Args(dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.opts.Binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.opts.Starter != nil {
		err = s.opts.Starter.Start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, err
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if s.opts.Starter != nil {
			s.opts.Starter.Done(p.pid)
		}
		close(p.done)
	}()
	return p, nil
}

// kill ends the process group and waits for Chromium.
func (p *process) kill() {
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.done
}

// exitText says how the process ended.
func (p *process) exitText() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// watch checks Chromium until it exits, stops answering or ctx ends, and
// says which.
func (s *Supervisor) watch(ctx context.Context, addr string, p *process) string {
	tick := time.NewTicker(s.opts.CheckInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return "daemon stopping"
		case <-p.done:
			return "exited: " + p.exitText()
		case <-tick.C:
			if _, err := s.version(ctx, addr); err != nil {
				failures++
				if failures >= failuresBeforeRestart {
					return "not answering: " + err.Error()
				}
				continue
			}
			failures = 0
		}
	}
}

// awaitReady waits for the DevToolsActivePort file Chromium writes once
// it listens, then for /json/version to answer.
func (s *Supervisor) awaitReady(ctx context.Context, dir string, p *process) (addr, version string, err error) {
	deadline := time.NewTimer(s.opts.StartTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", "", errors.New("daemon stopping")
		case <-p.done:
			return "", "", fmt.Errorf("exited before answering: %s", p.exitText())
		case <-deadline.C:
			return "", "", fmt.Errorf("not answering %s after start", s.opts.StartTimeout)
		case <-poll.C:
		}
		b, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort"))
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		if err != nil || port <= 0 {
			continue
		}
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if version, err = s.version(ctx, addr); err == nil {
			return addr, version, nil
		}
	}
}

// version asks Chromium at addr for /json/version within CheckTimeout.
func (s *Supervisor) version(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/json/version", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/json/version: %s", resp.Status)
	}
	var v struct {
		Browser string `json:"Browser"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&v); err != nil {
		return "", fmt.Errorf("/json/version: %w", err)
	}
	return v.Browser, nil
}

// DefaultBinaries are where Debian installs Chromium: the headless shell
// first, and each executable before its /usr/bin launcher (a shell script
// that the headless shell's does not even exec).
var DefaultBinaries = []string{
	"/usr/lib/chromium/chromium-headless-shell",
	"/usr/bin/chromium-headless-shell",
	"/usr/lib/chromium/chromium",
	"/usr/bin/chromium",
}

// FindBinary returns the first of DefaultBinaries that is executable.
func FindBinary() (string, error) {
	for _, p := range DefaultBinaries {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found at %s: install chromium-headless-shell or chromium, or set --chromium", strings.Join(DefaultBinaries, ", "))
}
