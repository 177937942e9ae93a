package natscluster_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/logtest"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
	apiserver "aileron.dev/services/api/server"
	"aileron.dev/services/docker-provisioner/provisioner"
	"aileron.dev/services/firewall/firewall"
)

// plane is the control plane as production runs it, minus the processes:
// the api (orchestrator, gRPC, REST), the firewall service and the docker
// provisioner, each on its own NATS connection given all three servers.
type plane struct {
	t      testing.TB
	conns  map[string]*nats.Conn
	client workspacev1.WorkspaceServiceClient
	logs   *logtest.Lines
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cfg    provisioner.Config
}

func startPlane(t testing.TB, c *cluster) *plane {
	t.Helper()
	p := &plane{t: t, conns: map[string]*nats.Conn{}, logs: &logtest.Lines{}}
	out := io.Writer(p.logs)
	if testing.Verbose() && os.Getenv("NATSCLUSTER_TEST_LOG") != "" {
		out = io.MultiWriter(p.logs, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	t.Cleanup(p.stop)
	connect := func(name string) jetstream.JetStream {
		nc, js, err := bus.Connect(c.URL(), name)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		p.conns[name] = nc
		return js
	}

	js := connect("api")
	oc := orchestrator.DefaultConfig()
	oc.Provisioners = []workspace.Provisioner{workspace.ProvisionerDocker}
	oc.SweepInterval = time.Second
	api, err := apiserver.Start(ctx, apiserver.Config{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
		Orchestrator: oc, ShutdownTimeout: 5 * time.Second}, js, log.With("service", "api"))
	require.NoError(t, err)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = api.Wait() }()
	conn, err := grpc.NewClient(api.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	p.client = workspacev1.NewWorkspaceServiceClient(conn)

	// No periodic resync in either consumer: a lost event must show as a
	// workspace that never reaches its desired state, not be repaired.
	fw, err := firewall.New(ctx, firewall.Config{Defaults: firewall.BuiltinDefaults()}, connect("firewall"), log.With("service", "firewall"))
	require.NoError(t, err)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = fw.Run(ctx) }()

	p.cfg = provisioner.DefaultConfig()
	p.cfg.Instance = instancePrefix + runID
	p.cfg.StopTimeout = provisioner.Duration(3 * time.Second)
	p.cfg.HealthWait = provisioner.Duration(2 * time.Second)
	p.cfg.ResyncInterval = provisioner.Duration(time.Hour)
	p.cfg.SweepInterval = provisioner.Duration(time.Hour)
	for _, s := range workspace.Services {
		sc := p.cfg.Services.Get(s)
		sc.MemoryMB, sc.CPUs = 64, 0.25
		sc.Image, sc.Env = provisioner.StubImage, nil
	}
	prov, err := provisioner.New(p.cfg, docker, connect("provisioner"), log.With("service", "docker-provisioner"))
	require.NoError(t, err)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = prov.Run(ctx) }()
	return p
}

func (p *plane) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.wg.Wait()
	p.cancel = nil
}

// servers says which NATS server each service is connected to.
func (p *plane) servers() map[string]string {
	out := map[string]string{}
	for name, nc := range p.conns {
		out[name] = nc.ConnectedServerName()
	}
	return out
}
