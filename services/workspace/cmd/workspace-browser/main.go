// Command workspace-browser is the browser daemon of a workspace: the
// entrypoint of the browser container, beside a headless Chromium it
// supervises. It carries the DevTools protocol out of the container on one
// port and serves tabs, screenshots and a live preview (docs/browser.md);
// as PID 1 it reaps the orphans Chromium's processes leave.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"aileron.dev/pkg/config"
	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/browser"
	"aileron.dev/services/workspace/daemon"
	"aileron.dev/services/workspace/reaper"
)

func main() {
	daemon.Main("workspace-browser", parseConfig, func(c Config) config.Log { return c.Log }, run)
}

// run refuses root, then serves until ctx ends.
func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := daemon.RefuseRoot(os.Geteuid(), "Chromium runs unsandboxed, so run as an unprivileged user (65532)"); err != nil {
		return err
	}
	return serve(ctx, cfg, log)
}

// serve runs Chromium and the API until ctx ends, then stops Chromium and
// drains.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	reap := reaper.New(log)
	defer reap.RunAsInit(ctx)()
	sup := browser.NewSupervisor(cfg.Supervisor(reap, log))
	api := browser.NewServer(sup, cfg.Limits(), activity.New(), log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	sctx, stopChromium := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); sup.Run(sctx) }()
	defer wg.Wait()
	defer stopChromium()
	log.Info("browser daemon listening", slog.String("addr", ln.Addr().String()), slog.String("chromium", cfg.Chromium),
		slog.String("proxy", cfg.Proxy), slog.Bool("reaper", os.Getpid() == 1))
	// Chromium first: the DevTools WebSockets end with it.
	return daemon.Serve(ctx, "browser daemon", ln, api.Handler(), cfg.ShutdownTimeout, log, func(context.Context) { stopChromium() })
}
