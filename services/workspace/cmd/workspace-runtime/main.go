// Command workspace-runtime is the runtime daemon of a workspace: PID 1 of
// the runtime container, running as the workspace user. It serves exec,
// sessions, files, terminals and the activity signal on one port
// (docs/runtime.md, docs/terminal.md) and, as PID 1, reaps the orphans the
// container's processes leave.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"aileron.dev/pkg/config"
	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/daemon"
	"aileron.dev/services/workspace/files"
	"aileron.dev/services/workspace/reaper"
	"aileron.dev/services/workspace/runtimeapi"
	"aileron.dev/services/workspace/session"
	"aileron.dev/services/workspace/terminal"
	"aileron.dev/services/workspace/terminalui"
)

func main() {
	daemon.Main("workspace-runtime", parseConfig, func(c Config) config.Log { return c.Log }, run)
}

// run serves until ctx ends, then kills the sessions and drains.
func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := daemon.RefuseRoot(os.Geteuid(), "run as the workspace user"); err != nil {
		return err
	}
	ensureHome(os.Getenv("HOME"), log)
	fsys, err := files.Open(cfg.Root, files.Limits{MaxFileBytes: cfg.MaxFileBytes, MaxListEntries: 10000, MaxDepth: 16})
	if err != nil {
		return err
	}
	defer fsys.Close()
	reap := reaper.New(log)
	defer reap.RunAsInit(ctx)()
	act := activity.New()
	sessions := session.NewManager(session.Limits{Max: cfg.MaxSessions, BufferBytes: cfg.SessionBufferBytes}, reap, act)
	api := runtimeapi.New(runtimeapi.Limits{
		MaxExecs: cfg.MaxExecs, MaxBodyBytes: cfg.MaxBodyBytes, ExecTimeout: cfg.ExecTimeout,
		MaxExecTimeout: cfg.MaxExecTimeout, StallTimeout: cfg.StallTimeout,
	}, fsys, sessions, act, reap, log).WithAgents(cfg.Agents).WithActivityPeers(activity.NewPeers(cfg.ActivityPeers)).WithPreviewDeny(cfg.PreviewDenyPorts...)

	terminals := terminal.NewManager(terminal.Options{
		Limits: terminal.Limits{
			Max: cfg.MaxTerminals, BufferBytes: cfg.TerminalBufferBytes,
			MaxFrameBytes: cfg.TerminalMaxFrameBytes, WriteTimeout: cfg.TerminalWriteTimeout,
		},
		Dir: fsys.Dir(), OriginPatterns: cfg.AllowedOrigins, Starter: reap, Activity: act, Log: log,
	})
	page := terminalui.New(terminalui.Options{XtermDir: cfg.XtermDir, XtermModulesDir: cfg.XtermModulesDir})
	if why := page.Missing(); why != "" {
		log.Warn("terminal page unavailable: xterm.js is not installed", slog.String("reason", why))
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	api.WithPreviewDeny(uint16(ln.Addr().(*net.TCPAddr).Port))
	log.Info("runtime daemon listening", slog.String("addr", ln.Addr().String()), slog.String("root", fsys.Dir()), slog.Bool("reaper", os.Getpid() == 1))
	// Sessions and terminals first: their attached streams end with them.
	return daemon.Serve(ctx, "runtime daemon", ln, api.Previews(routes(api.Handler(), terminals.Handler(), page.Handler())), cfg.ShutdownTimeout, log,
		func(sctx context.Context) {
			_ = sessions.Close(sctx)
			_ = terminals.Close(sctx)
		})
}

// routes puts the terminals under /v1/terminals, the terminal page at /
// (where the front door sends a browser it lets in) with its assets, and
// everything else on the runtime API.
func routes(api, terminals, page http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/terminals", terminals)
	mux.Handle("/v1/terminals/", terminals)
	mux.Handle("GET /{$}", page)
	mux.Handle(terminalui.AssetsPath, page)
	mux.Handle("/", api)
	return mux
}
