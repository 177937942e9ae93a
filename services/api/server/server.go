// Package server runs the api service: the orchestrator behind a gRPC server
// and the REST gateway that calls it over real gRPC, so interceptors run for
// every REST request too.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	pkgfd "aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/frontdoor"
	"aileron.dev/services/api/gateway"
	"aileron.dev/services/api/orchestrator"
)

// Config configures the api service.
type Config struct {
	// HTTPAddr serves REST (default :3001); GRPCAddr serves gRPC (default :9090).
	HTTPAddr, GRPCAddr string
	Orchestrator       orchestrator.Config
	// Identity resolves the caller; nil means the unauthenticated dev identity.
	Identity orchestrator.Identity
	// Access holds authorization rules beyond ownership.
	Access orchestrator.AccessPolicy
	// UnaryInterceptors and StreamInterceptors run before the handlers (e.g. auth).
	UnaryInterceptors  []grpc.UnaryServerInterceptor
	StreamInterceptors []grpc.StreamServerInterceptor
	// UI serves every non-API path of the REST port, when set.
	UI http.Handler
	// Protection lists the Host names the REST port answers besides loopback.
	Protection gateway.Protection
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration
	// FrontDoor, when set, serves the workspace services' origins
	// (<service>--<id>.<apps domain>) on the REST port, reports front-door
	// URLs as service endpoints and enables OpenWorkspaceService.
	FrontDoor *frontdoor.Config
	// Authenticator checks the front door's bearer tokens; nil is the open
	// dev authenticator. Secure sets it.
	Authenticator *auth.Authenticator
	// Metrics, when set, receives the api's metrics: gRPC and REST requests,
	// refused calls, watch streams and the workspace lifecycle.
	Metrics *prometheus.Registry
	// MetricsOnREST serves Metrics at GET /metrics on the REST port (what
	// aileron dev does; the api binary serves them on its own address).
	MetricsOnREST bool
}

// Secure puts the guard's authentication, rate-limit and audit interceptors in
// front of every handler and takes the caller's identity from them.
func (c *Config) Secure(g *auth.Guard) {
	c.UnaryInterceptors = append(c.UnaryInterceptors, g.Unary)
	c.StreamInterceptors = append(c.StreamInterceptors, g.Stream)
	c.Identity = auth.Identity
	c.Authenticator = g.Authenticator()
	c.Orchestrator.MigrateOwner = c.Authenticator.LegacyOwner
}

// Server is a running api service.
type Server struct {
	// HTTPAddr and GRPCAddr are the bound addresses (useful with port 0).
	HTTPAddr, GRPCAddr string
	Orchestrator       *orchestrator.Orchestrator
	// FrontDoor is the front door, when configured.
	FrontDoor *frontdoor.FrontDoor
	done      chan error
}

// Wait blocks until the server stopped after its context ended.
func (s *Server) Wait() error { return <-s.done }

// Start binds both ports and serves until ctx ends.
func Start(ctx context.Context, cfg Config, js jetstream.JetStream, log *slog.Logger) (*Server, error) {
	st, err := store.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	o, err := orchestrator.New(cfg.Orchestrator, js, st, log)
	if err != nil {
		return nil, err
	}
	if err := o.Init(ctx); err != nil {
		return nil, fmt.Errorf("init orchestrator: %w", err)
	}
	gl, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("listen grpc: %w", err)
	}
	hl, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		_ = gl.Close()
		return nil, fmt.Errorf("listen http: %w", err)
	}
	unary := []grpc.UnaryServerInterceptor{recoverUnary(log), logUnary(log), checkUnary}
	stream := []grpc.StreamServerInterceptor{recoverStream(log), checkStream}
	ui, gm, err := instrument(cfg, o)
	if err != nil {
		_, _ = gl.Close(), hl.Close()
		return nil, err
	}
	if cfg.Metrics != nil {
		rm := newRPCMetrics()
		if err := metrics.Register(cfg.Metrics, rm.collectors()...); err != nil {
			_, _ = gl.Close(), hl.Close()
			return nil, fmt.Errorf("register api metrics: %w", err)
		}
		unary = append([]grpc.UnaryServerInterceptor{rm.unary}, unary...)
		stream = append([]grpc.StreamServerInterceptor{rm.stream}, stream...)
	}
	var handler workspacev1.WorkspaceServiceServer = orchestrator.NewHandler(o, cfg.Identity, cfg.Access)
	var fd *frontdoor.FrontDoor
	if cfg.FrontDoor != nil {
		if fd, err = startFrontDoor(ctx, cfg, js, o, hl, log); err != nil {
			_, _ = gl.Close(), hl.Close()
			return nil, err
		}
		unary, stream = append(unary, fd.Unary), append(stream, fd.Stream)
		handler = fd.Handler(handler.(*orchestrator.Handler), cfg.Identity)
	}
	clientUnary := []grpc.UnaryClientInterceptor{checkClientUnary}
	clientStream := []grpc.StreamClientInterceptor{checkClientStream}
	if telemetry.Enabled() {
		// First, so the span covers every other interceptor and their logs
		// see it; the gateway's calls carry the REST request's trace.
		unary = append([]grpc.UnaryServerInterceptor{traceUnary}, unary...)
		stream = append([]grpc.StreamServerInterceptor{traceStream}, stream...)
		clientUnary = append(clientUnary, injectUnary)
		clientStream = append(clientStream, injectStream)
	}
	serverOpts := append(limitOptions(),
		grpc.ForceServerCodecV2(newRequestCodec()),
		grpc.ChainUnaryInterceptor(append(unary, cfg.UnaryInterceptors...)...),
		grpc.ChainStreamInterceptor(append(stream, cfg.StreamInterceptors...)...),
	)
	clientOpts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(clientUnary...), grpc.WithChainStreamInterceptor(clientStream...)}
	gs := grpc.NewServer(serverOpts...)
	workspacev1.RegisterWorkspaceServiceServer(gs, handler)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)

	conn, err := grpc.NewClient(gl.Addr().String(), clientOpts...)
	if err != nil {
		_, _ = gl.Close(), hl.Close()
		return nil, fmt.Errorf("dial grpc: %w", err)
	}
	gw, err := gateway.New(ctx, conn, ui, cfg.Protection, gm)
	if err != nil {
		_, _, _ = gl.Close(), hl.Close(), conn.Close()
		return nil, err
	}
	if fd != nil {
		gw = fd.Dispatch(gw)
	}
	// Headers are capped (the front door forwards them to workspaces) and
	// idle keep-alives end; there is no write timeout, for streams.
	httpSrv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10, IdleTimeout: 2 * time.Minute}

	s := &Server{HTTPAddr: hl.Addr().String(), GRPCAddr: gl.Addr().String(), Orchestrator: o, FrontDoor: fd, done: make(chan error, 1)}
	loopsDone := make(chan struct{})
	go func() { o.Run(ctx); close(loopsDone) }()
	go func() { _ = gs.Serve(gl) }()
	go func() { _ = httpSrv.Serve(hl) }()
	log.Info("api serving", "http", s.HTTPAddr, "grpc", s.GRPCAddr)

	go func() {
		<-ctx.Done()
		// Shutdown: report NOT_SERVING, drain HTTP, then stop gRPC gracefully
		// with a hard stop if draining takes too long.
		hs.Shutdown()
		timeout := cfg.ShutdownTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := httpSrv.Shutdown(sctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = httpSrv.Close()
		}
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-sctx.Done():
			gs.Stop()
		}
		_ = conn.Close()
		<-loopsDone
		s.done <- err
	}()
	return s, nil
}

// instrument registers the orchestrator's and the gateway's metrics when
// cfg.Metrics is set, and returns the handler of non-API paths (the UI, and
// /metrics with MetricsOnREST) and the gateway's metrics.
func instrument(cfg Config, o *orchestrator.Orchestrator) (http.Handler, *gateway.Metrics, error) {
	if cfg.Metrics == nil {
		return cfg.UI, nil, nil
	}
	if err := o.RegisterMetrics(cfg.Metrics); err != nil {
		return nil, nil, fmt.Errorf("register orchestrator metrics: %w", err)
	}
	gm := gateway.NewMetrics()
	if err := gm.Register(cfg.Metrics); err != nil {
		return nil, nil, fmt.Errorf("register gateway metrics: %w", err)
	}
	if !cfg.MetricsOnREST {
		return cfg.UI, gm, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(cfg.Metrics))
	if cfg.UI != nil {
		mux.Handle("/", cfg.UI)
	} else {
		mux.Handle("/", http.NotFoundHandler())
	}
	return mux, gm, nil
}

// startFrontDoor loads the control plane's front-door key and builds the
// front door on the REST listener's port.
func startFrontDoor(ctx context.Context, cfg Config, js jetstream.JetStream, o *orchestrator.Orchestrator, hl net.Listener, log *slog.Logger) (*frontdoor.FrontDoor, error) {
	key, err := pkgfd.LoadKey(ctx, js)
	if err != nil {
		return nil, err
	}
	port := 0
	if a, ok := hl.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	return frontdoor.New(*cfg.FrontDoor, key, o, cfg.Authenticator, port, log.With("component", "frontdoor"))
}

func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("handler panic", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("handler panic", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return h(srv, ss)
	}
}

func logUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		log.DebugContext(ctx, "rpc", "method", info.FullMethod, "code", status.Code(err).String(), "duration", time.Since(start))
		return resp, err
	}
}
