// Command workspace-canvas is the canvas daemon of a workspace: it serves
// the workspace's canvas folder (HTML, Markdown rendered, images, PDF,
// text) with live reload on the canvas's own origin, reading every file
// through the runtime daemon's files API (docs/canvas.md). It needs no
// file of its own at run time: its assets are in the binary.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"aileron.dev/pkg/config"
	"aileron.dev/services/workspace/canvas"
	"aileron.dev/services/workspace/daemon"
)

func main() {
	daemon.Main("workspace-canvas", parseConfig, func(c Config) config.Log { return c.Log }, run)
}

// run serves until ctx ends, then ends the live-reload streams and drains.
func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := daemon.RefuseRoot(os.Geteuid(), "run as an unprivileged user (the image uses 65532)"); err != nil {
		return err
	}
	c, err := canvas.New(canvas.Options{
		RuntimeURL: cfg.RuntimeURL, Dir: cfg.Dir, MaxFileBytes: cfg.MaxFileBytes,
		MaxClients: cfg.MaxClients, Log: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hctx, stopHub := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(hctx) }()
	defer stopHub()
	log.Info("canvas daemon listening", slog.String("addr", ln.Addr().String()), slog.String("runtime", cfg.RuntimeURL), slog.String("dir", cfg.Dir))
	// The hub first: its end closes the event streams.
	return daemon.Serve(ctx, "canvas daemon", ln, c.Handler(), cfg.ShutdownTimeout, log, func(context.Context) {
		stopHub()
		wg.Wait()
	})
}
