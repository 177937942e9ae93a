// Command workspace-browser is the browser daemon of a workspace: the
// entrypoint of the browser container, beside a headless Chromium it
// supervises. It carries the DevTools protocol out of the container on one
// port and serves tabs, screenshots and a live preview (docs/browser.md);
// as PID 1 it reaps the orphans Chromium's processes leave.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

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
	var wg sync.WaitGroup
	defer wg.Wait()
	if os.Getpid() == 1 {
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wg.Add(1)
		go func() { defer wg.Done(); reap.Run(rctx) }()
	}
	sup := browser.NewSupervisor(cfg.Supervisor(reap, log))
	api := browser.NewServer(sup, cfg.Limits(), activity.New(), log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	sctx, stopChromium := context.WithCancel(ctx)
	defer stopChromium()
	wg.Add(1)
	go func() { defer wg.Done(); sup.Run(sctx) }()
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("browser daemon listening", slog.String("addr", ln.Addr().String()), slog.String("chromium", cfg.Chromium),
		slog.String("proxy", cfg.Proxy), slog.Bool("reaper", os.Getpid() == 1))

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	log.Info("browser daemon shutting down")
	// Chromium first: the DevTools WebSockets end with it, so Shutdown
	// does not wait on streams that never end.
	stopChromium()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if srv.Shutdown(dctx) != nil {
		_ = srv.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
