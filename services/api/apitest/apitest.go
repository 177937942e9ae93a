// Package apitest starts a real api service for tests: an embedded NATS
// server with JetStream in a temp dir, the orchestrator, its gRPC server and
// the REST gateway on loopback ports.
package apitest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/bus/bustest"
	"aileron.dev/pkg/store"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/orchestrator"
	apiserver "aileron.dev/services/api/server"
)

// Env is a running api service.
type Env struct {
	URL      string // REST base URL, e.g. http://127.0.0.1:port
	StoreDir string
	NATS     *server.Server
	// Users is the NATS server with every service's user (Options.OwnUsers),
	// or nil.
	Users  *bustest.Server
	NC     *nats.Conn
	JS     jetstream.JetStream
	Store  *store.Store
	Server *apiserver.Server
	Client workspacev1.WorkspaceServiceClient
	orch   orchestrator.Config
	cancel context.CancelFunc
}

// Options tune Start.
type Options struct {
	// Orchestrator config; zero means orchestrator.DefaultConfig() with a fast sweep.
	Orchestrator *orchestrator.Config
	// StoreDir reuses a JetStream directory (to test restarts); "" makes a temp dir.
	StoreDir string
	// Server tweaks the server config (interceptors, identity, UI).
	Server func(*apiserver.Config)
	// Log receives the services' logs; nil discards them.
	Log *slog.Logger
	// Auth, when set, puts the authentication, rate-limit and audit
	// interceptors in front of the handlers (Limiter may be nil).
	Auth    *auth.Config
	Limiter *auth.Limiter
	// MaxWatches caps each caller's open watches (0: no cap); with Auth only.
	MaxWatches int
	// Bus sizes the streams and buckets; zero values are bus's defaults.
	Bus bus.SetupConfig
	// OwnUsers gives NATS one user per service with its permissions
	// (bus.Roles), as the chart does: the api connects as bus.RoleAPI and
	// Env.Users logs other services in as theirs. Otherwise NATS has no
	// users and the api's connection may do anything.
	OwnUsers bool
}

// Start starts NATS and the api service; both stop at test cleanup.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Env{StoreDir: opts.StoreDir}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	var err error
	if opts.OwnUsers {
		e.Users = bustest.StartIn(t, opts.StoreDir)
		e.NATS = e.Users.Server
		e.NC, e.JS, err = bus.Open(ctx, e.Users.URL(bus.RoleAPI.User), bus.RoleAPI, "", opts.Bus)
		require.NoError(t, err)
		t.Cleanup(e.NC.Close)
	} else {
		e.NATS, err = bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: opts.StoreDir, Port: -1, Sync: "always"})
		require.NoError(t, err)
		t.Cleanup(func() { e.NATS.Shutdown(); e.NATS.WaitForShutdown() })
		e.NC, e.JS, err = bus.Connect(e.NATS.ClientURL(), t.Name())
		require.NoError(t, err)
		t.Cleanup(e.NC.Close)
		require.NoError(t, bus.Setup(ctx, e.JS, opts.Bus))
	}
	e.Store, err = store.Open(ctx, e.JS)
	require.NoError(t, err)

	oc := orchestrator.DefaultConfig()
	oc.SweepInterval = 50 * time.Millisecond
	if opts.Orchestrator != nil {
		oc = *opts.Orchestrator
	}
	e.orch = oc
	cfg := apiserver.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Orchestrator: oc, ShutdownTimeout: 5 * time.Second}
	if opts.Auth != nil {
		a, err := auth.New(*opts.Auth)
		require.NoError(t, err)
		cfg.Secure(auth.NewGuard(a, opts.Limiter, e.JS, opts.Log).WithWatchCap(opts.MaxWatches))
	}
	if opts.Server != nil {
		opts.Server(&cfg)
	}
	e.Server, err = apiserver.Start(ctx, cfg, e.JS, opts.Log)
	require.NoError(t, err)
	e.URL = "http://" + e.Server.HTTPAddr
	conn, err := grpc.NewClient(e.Server.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	e.Client = workspacev1.NewWorkspaceServiceClient(conn)
	t.Cleanup(func() {
		_ = conn.Close()
		e.Stop()
	})
	return e
}

// Stop stops the api service (not NATS); safe to call twice.
func (e *Env) Stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	_ = e.Server.Wait()
	e.cancel = nil
}

// Attach starts another api service with env's orchestrator config on env's
// NATS connection (a second replica, or the same one after a restart); it
// stops at test cleanup.
func Attach(t testing.TB, env *Env) *apiserver.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := apiserver.Start(ctx, apiserver.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Orchestrator: env.orch},
		env.JS, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); _ = s.Wait() })
	return s
}
