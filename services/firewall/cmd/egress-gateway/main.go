// Command egress-gateway is the per-workspace gateway of the Docker
// provisioner: an egress proxy per policy group (the only way out of the
// workspace's internal networks) and the workspace's one published ingress
// port, routed by path to its services. Build it static (CGO_ENABLED=0).
package main

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

	"aileron.dev/pkg/health"
	"aileron.dev/pkg/metrics"
	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/ingress"
)

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "egress-gateway:", err)
		os.Exit(2)
	}
	log := cfg.Log.Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("egress gateway failed", slog.Any("error", err))
		os.Exit(1)
	}
}

// run serves until ctx is done or a listener fails, then drains.
func run(ctx context.Context, cfg Config, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(cfg.Listen)+3)

	em := egress.NewMetrics()
	if cfg.MetricsAddr != "" {
		if err := serveMetrics(ctx, cfg.MetricsAddr, em, errc); err != nil {
			return err
		}
	}
	// Fail closed: until the policy file is read, every group allows nothing.
	proxy := egress.New(egress.Policies{},
		egress.WithMetrics(em),
		egress.WithResolver(egress.NewResolver(cfg.DNSServer)),
		egress.WithAddrFilter(addrFilter(cfg.DenyCIDRs)),
		egress.WithLogger(log),
		egress.WithMaxConns(cfg.MaxConns))
	var listeners []net.Listener
	for g, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll(listeners)
			return fmt.Errorf("listen %s proxy: %w", g, err)
		}
		listeners = append(listeners, ln)
		log.Info("egress proxy listening", slog.String("group", string(g)), slog.String("addr", ln.Addr().String()))
		go func() { errc <- proxy.Serve(ctx, ln, g) }()
	}
	srv, h, err := startIngress(cfg, log, errc)
	if err != nil {
		cancel()
		_ = proxy.Close()
		return err
	}
	relay, err := startRelay(cfg, log, errc)
	if err != nil {
		cancel()
		_ = proxy.Close()
		if srv != nil {
			_ = srv.Close()
		}
		return err
	}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if cfg.PolicyFile != "" {
			egress.WatchPolicyFile(ctx, cfg.PolicyFile, cfg.PolicyInterval, func(ps egress.Policies, digest string) {
				proxy.SetPolicies(ps) // cuts the connections ps refuses before it returns
				if h != nil {
					h.SetPolicyDigest(digest)
				}
			}, log)
		}
	}()
	secretDone := make(chan struct{})
	go func() {
		defer close(secretDone)
		if h != nil && cfg.SecretFile != "" {
			ingress.WatchSecretFile(ctx, cfg.SecretFile, cfg.PolicyInterval, h.SetSecret, log)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("egress gateway shutting down")
	cancel()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer scancel()
	for _, s := range []*http.Server{srv, relay} {
		if s != nil {
			_ = s.Shutdown(sctx)
		}
	}
	_ = proxy.Shutdown(sctx)
	<-watchDone
	<-secretDone
	if errors.Is(runErr, egress.ErrClosed) || errors.Is(runErr, http.ErrServerClosed) || errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	return runErr
}

// startIngress starts the ingress server (nil when none is configured);
// Serve's result goes to errc. The handler refuses every request until it
// has a secret (from the watched --secret-file).
func startIngress(cfg Config, log *slog.Logger, errc chan<- error) (*http.Server, *ingress.Handler, error) {
	if cfg.Ingress == "" {
		return nil, nil, nil
	}
	h, err := ingress.NewHandler(cfg.Routes, log)
	if err != nil {
		return nil, nil, fmt.Errorf("build ingress: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Ingress)
	if err != nil {
		return nil, nil, fmt.Errorf("listen ingress: %w", err)
	}
	if cfg.SecretFile == "" {
		log.Error("ingress has no --secret-file, refusing every request")
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("ingress listening", slog.String("addr", ln.Addr().String()), slog.Int("routes", len(cfg.Routes)))
	go func() { errc <- srv.Serve(ln) }()
	return srv, h, nil
}

// startRelay starts the DevTools relay (nil when none is configured);
// Serve's result goes to errc.
func startRelay(cfg Config, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	if cfg.CDPRelay == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.CDPRelay)
	if err != nil {
		return nil, fmt.Errorf("listen cdp relay: %w", err)
	}
	srv := &http.Server{Handler: ingress.NewRelay(cfg.CDPTarget, log), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("cdp relay listening", slog.String("addr", ln.Addr().String()), slog.String("target", cfg.CDPTarget.Host))
	go func() { errc <- srv.Serve(ln) }()
	return srv, nil
}

// serveMetrics serves m (and the Go and process collectors) at /metrics on
// addr until ctx ends; Serve's result goes to errc.
func serveMetrics(ctx context.Context, addr string, m *egress.Metrics, errc chan<- error) error {
	reg := metrics.NewRegistry()
	if err := m.Register(reg); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen metrics: %w", err)
	}
	go func() { errc <- health.Serve(ctx, ln, metrics.Mux(http.NotFoundHandler(), reg)) }()
	return nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}
