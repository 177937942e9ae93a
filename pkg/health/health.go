// Package health serves the liveness and readiness endpoints that
// Kubernetes probes: /healthz answers while the process serves HTTP,
// /readyz runs the service's readiness check.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Handler serves GET /healthz (always 200) and GET /readyz: 200 when ready
// returns nil, 503 with its error otherwise.
func Handler(ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// Serve serves h on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Run serves the endpoints on addr with the ready check while run runs, and
// returns what run returned. An address that cannot be listened on fails at
// once; an empty addr serves nothing.
func Run(ctx context.Context, addr string, ready func() error, run func(context.Context) error) error {
	return RunHandler(ctx, addr, Handler(ready), run)
}

// RunHandler is Run with the handler given: Handler(ready) and whatever else
// the service serves beside it (its /metrics).
func RunHandler(ctx context.Context, addr string, h http.Handler, run func(context.Context) error) error {
	if addr == "" {
		return run(ctx)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("health endpoints: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	probes := make(chan error, 1)
	go func() { probes <- Serve(ctx, ln, h) }()
	err = run(ctx)
	cancel()
	return errors.Join(err, <-probes)
}
