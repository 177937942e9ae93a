// Package daemon holds what the commands of the workspace's daemons
// (workspace-runtime, workspace-browser, workspace-canvas) share: a
// process's life from its flags to its exit, serving and draining its one
// port, and the refusal to run as root.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"aileron.dev/pkg/config"
)

// Main runs a daemon's command: it parses the arguments and environment
// with parse (exit 2 on an error), logs with the configuration's log
// settings, and runs run until SIGINT or SIGTERM cancels its context
// (exit 1 when it fails).
func Main[C any](name string, parse func(args []string, getenv func(string) string) (C, error), logOf func(C) config.Log,
	run func(context.Context, C, *slog.Logger) error) {
	cfg, err := parse(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	log := logOf(cfg).Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error(name+" failed", slog.Any("error", err))
		stop()
		os.Exit(1)
	}
}

// RefuseRoot returns an error when euid is root's, saying why the daemon
// must not run as root.
func RefuseRoot(euid int, why string) error {
	if euid == 0 {
		return errors.New("refusing to run as root: " + why)
	}
	return nil
}

// Serve serves h on ln until ctx ends or serving fails, then drains: it
// calls endStreams with a context bounded by shutdown, to end the streams
// the daemon holds open (Shutdown waits on those and does not track
// WebSockets at all), then shuts the server down; what is still open at the
// deadline is cut. name says whose shutdown the log line is about.
func Serve(ctx context.Context, name string, ln net.Listener, h http.Handler, shutdown time.Duration, log *slog.Logger,
	endStreams func(context.Context)) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	log.Info(name + " shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdown)
	defer cancel()
	endStreams(sctx)
	if srv.Shutdown(sctx) != nil {
		_ = srv.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
