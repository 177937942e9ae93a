package provisioner_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/logtest"
	"aileron.dev/pkg/metrics"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/docker-provisioner/provisioner"

	"aileron.dev/pkg/workspace"
)

// runID marks every object of this test process (instance t-<runID>-<n>), so
// cleanup never touches another run's objects on a shared engine.
var (
	runID    = fmt.Sprintf("%x", time.Now().Unix())
	envCount atomic.Int64
	docker   *client.Client
)

const (
	waitFor = 90 * time.Second
	tick    = 50 * time.Millisecond
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	ctx := context.Background()
	if !provisioner.Available(ctx) {
		fmt.Fprintln(os.Stderr, "FAIL: no Docker engine answers on DOCKER_HOST or /var/run/docker.sock; these tests need a real engine")
		return 1
	}
	var err error
	if docker, err = provisioner.NewDockerClient(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: docker client:", err)
		return 1
	}
	if out, err := exec.Command("bash", "../hack/build-images.sh").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: build test images: %v\n%s", err, out)
		return 1
	}
	// Objects of earlier runs that died before their cleanup.
	cleanupByLabel(ctx, func(instance string) bool { return staleRun(instance) })
	// The tests reach services at their endpoints as the front door does.
	http.DefaultClient.Transport = frontDoorTransport{}
	e2eHTTP.Transport = frontDoorTransport{}
	code := m.Run()
	cleanupByLabel(ctx, func(instance string) bool { return strings.HasPrefix(instance, "t-"+runID+"-") })
	_ = docker.Close()
	if code == 0 {
		if err := goleak.Find(goleakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: leaked goroutines:", err)
			return 1
		}
	}
	return code
}

// staleRun reports whether an instance label belongs to a test run that
// started more than an hour ago (runID is the start time in hex Unix seconds).
func staleRun(instance string) bool {
	parts := strings.Split(instance, "-")
	if len(parts) != 3 || parts[0] != "t" || parts[1] == runID {
		return false
	}
	started, err := strconv.ParseInt(parts[1], 16, 64)
	if err != nil {
		return false
	}
	return time.Now().Unix()-started > int64(time.Hour/time.Second)
}

func goleakOptions() []goleak.Option {
	return []goleak.Option{
		// nats-server stops these asynchronously after Shutdown.
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).acceptConnections.func1"),
		goleak.IgnoreTopFunction("time.Sleep"),
		// Idle keep-alive connections of http.DefaultClient used by the tests.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	}
}

// cleanupByLabel force-removes every container, network and volume managed
// by the provisioner whose instance label matches.
func cleanupByLabel(ctx context.Context, match func(instance string) bool) {
	f := filters.NewArgs(filters.Arg("label", provisioner.LabelManagedBy+"="+provisioner.ManagedBy))
	if cs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs {
			if match(c.Labels[provisioner.LabelInstance]) {
				_ = docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
			}
		}
	}
	if ns, err := docker.NetworkList(ctx, network.ListOptions{Filters: f}); err == nil {
		for _, n := range ns {
			if match(n.Labels[provisioner.LabelInstance]) {
				_ = docker.NetworkRemove(ctx, n.ID)
			}
		}
	}
	if vs, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f}); err == nil {
		for _, v := range vs.Volumes {
			if match(v.Labels[provisioner.LabelInstance]) {
				_ = docker.VolumeRemove(ctx, v.Name, true)
			}
		}
	}
}

// cleanupWorkspace force-removes every object labelled with workspace id.
func cleanupWorkspace(ctx context.Context, id string) {
	f := filters.NewArgs(filters.Arg("label", provisioner.LabelWorkspaceID+"="+id))
	if cs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs {
			_ = docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
	}
	if ns, err := docker.NetworkList(ctx, network.ListOptions{Filters: f}); err == nil {
		for _, n := range ns {
			_ = docker.NetworkRemove(ctx, n.ID)
		}
	}
	if vs, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f}); err == nil {
		for _, v := range vs.Volumes {
			_ = docker.VolumeRemove(ctx, v.Name, true)
		}
	}
}

// harness is one test's world: embedded NATS, the real orchestrator and
// REST gateway, and a docker provisioner with its own instance label.
type harness struct {
	t    testing.TB
	api  *apitest.Env
	cfg  provisioner.Config
	logs *logtest.Lines
	log  *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
	key    frontdoor.Key
	// reg holds the running provisioner's metrics.
	reg *prometheus.Registry
}

// newHarness starts NATS and the api; tweak adjusts the provisioner config
// (nil keeps the test defaults); ocfg nil keeps the orchestrator defaults.
func newHarness(t testing.TB, tweak func(*provisioner.Config), ocfg *orchestrator.Config) *harness {
	t.Helper()
	if ocfg == nil {
		c := orchestrator.DefaultConfig()
		c.SweepInterval = 100 * time.Millisecond
		ocfg = &c
	}
	logs := &logtest.Lines{}
	out := io.Writer(logs)
	if testing.Verbose() && os.Getenv("PROVISIONER_TEST_LOG") != "" {
		out = io.MultiWriter(logs, os.Stderr)
	}
	h := &harness{t: t, logs: logs, log: slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h.api = apitest.Start(t, apitest.Options{Orchestrator: ocfg, Log: h.log})
	h.cfg = testConfig()
	if tweak != nil {
		tweak(&h.cfg)
	}
	instance := h.cfg.Instance
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("provisioner warnings and errors (last %d):\n%s", logTail, logs.Problems(logTail))
		}
		h.stopProvisioner()
		cleanupByLabel(context.Background(), func(i string) bool { return i == instance })
	})
	return h
}

// testConfig is DefaultConfig with a unique instance and quick timings, and
// the stub image for every service: it starts in milliseconds and answers
// the test hooks (STUB_FAIL_HEALTH, /info, files, fetch). The runtime image
// is exercised by cmd/aileron's dev tests.
func testConfig() provisioner.Config {
	cfg := provisioner.DefaultConfig()
	cfg.Instance = fmt.Sprintf("t-%s-%d", runID, envCount.Add(1))
	cfg.StopTimeout = provisioner.Duration(3 * time.Second)
	cfg.HealthWait = provisioner.Duration(2 * time.Second)
	cfg.ResyncInterval = provisioner.Duration(time.Hour)
	cfg.SweepInterval = provisioner.Duration(time.Hour)
	for _, s := range workspace.Services {
		sc := cfg.Services.Get(s)
		sc.MemoryMB, sc.CPUs = 64, 0.5
		sc.Image, sc.Env = provisioner.StubImage, nil
	}
	// A gateway image of this checkout's own (several checkouts on one
	// engine each build aileron/egress-gateway:dev from their own code).
	if img := os.Getenv("AILERON_DOCKER_GATEWAY_IMAGE"); img != "" {
		cfg.Gateway.Image = img
	}
	return cfg
}

// startProvisioner starts a provisioner with the harness config.
func (h *harness) startProvisioner() {
	h.t.Helper()
	p, err := provisioner.New(h.cfg, docker, h.api.JS, h.log)
	require.NoError(h.t, err)
	reg := metrics.NewRegistry()
	require.NoError(h.t, p.RegisterMetrics(reg))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	h.mu.Lock()
	h.cancel, h.done, h.reg = cancel, done, reg
	h.mu.Unlock()
}

// metric adds the counter values of the series of name whose labels include
// want, from the running provisioner's registry.
func (h *harness) metric(name string, want map[string]string) float64 {
	h.t.Helper()
	h.mu.Lock()
	reg := h.reg
	h.mu.Unlock()
	n, err := metrics.Sum(reg, name, want)
	require.NoError(h.t, err)
	return n
}

// stopProvisioner cancels the provisioner (as a kill would, mid-operation)
// and waits for Run to return.
func (h *harness) stopProvisioner() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel, h.done = nil, nil
	h.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(h.t, err)
	case <-time.After(time.Minute):
		h.t.Fatal("provisioner did not stop within a minute")
	}
}

// create creates a docker workspace through the API.
func (h *harness) create(name string, canvas bool) *workspacev1.Workspace {
	h.t.Helper()
	resp, err := h.api.Client.CreateWorkspace(context.Background(), &workspacev1.CreateWorkspaceRequest{
		Name: name, Provisioner: "docker", CanvasEnabled: canvas,
	})
	require.NoError(h.t, err)
	return resp.Workspace
}

// get returns the workspace, or nil once it is gone (404).
func (h *harness) get(id string) *workspacev1.Workspace {
	h.t.Helper()
	// A bounded call: a GET that hangs fails with its own error instead of
	// leaving the caller's poll to time out with nothing to show.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := h.api.Client.GetWorkspace(ctx, &workspacev1.GetWorkspaceRequest{Id: id})
	if status.Code(err) == codes.NotFound {
		return nil
	}
	require.NoError(h.t, err)
	h.knowEndpoints(resp.Workspace)
	return resp.Workspace
}

// ingressSecret is what the API's front door sends to workspace id's
// ingress in frontdoor.Header: computed from the key in the harness's
// secrets bucket, the one the provisioner loads.
func (h *harness) ingressSecret(id string) string {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.key == nil {
		k, err := frontdoor.LoadKey(context.Background(), h.api.JS)
		require.NoError(h.t, err)
		h.key = k
	}
	return h.key.WorkspaceSecret(id)
}

// knowEndpoints records the ingress secret of each of w's endpoints for
// frontDoorTransport.
func (h *harness) knowEndpoints(w *workspacev1.Workspace) {
	h.t.Helper()
	s := w.GetServices()
	for _, svc := range []*workspacev1.ServiceStatus{s.GetRuntime(), s.GetTerminal(), s.GetBrowser(), s.GetCanvas()} {
		if u, err := url.Parse(svc.GetEndpoint()); err == nil && u.Host != "" {
			endpointSecrets.Store(u.Host, h.ingressSecret(w.GetId()))
		}
	}
}

// endpointSecrets maps the host:port of every endpoint a harness has read
// to its workspace's ingress secret (a reused port is overwritten by the
// next read).
var endpointSecrets sync.Map

// frontDoorTransport is the transport of http.DefaultClient and e2eHTTP in
// these tests: it adds frontdoor.Header to requests to a known endpoint, as
// the front door does, so tests written against endpoints keep working. A
// test of the refusal uses a client of its own.
type frontDoorTransport struct{}

func (frontDoorTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if secret, ok := endpointSecrets.Load(req.URL.Host); ok && req.Header.Get(frontdoor.Header) == "" {
		req = req.Clone(req.Context())
		req.Header.Set(frontdoor.Header, secret.(string))
	}
	return http.DefaultTransport.RoundTrip(req)
}

// waitState polls until the workspace is in state (and, for running and
// stopped, the provisioner has observed its current generation).
func (h *harness) waitState(id, state string) *workspacev1.Workspace {
	h.t.Helper()
	return h.waitStateWithin(id, state, waitFor)
}

// waitStateWithin is waitState with its own bound on the wait.
func (h *harness) waitStateWithin(id, state string, within time.Duration) *workspacev1.Workspace {
	h.t.Helper()
	return h.poll(id, "reach "+state, within, func(w *workspacev1.Workspace) bool {
		settled := (state != "running" && state != "stopped") || w.GetObservedGeneration() == w.GetGeneration()
		return w != nil && w.State == state && settled
	})
}

// waitGone polls until GET answers 404.
func (h *harness) waitGone(id string) {
	h.t.Helper()
	h.poll(id, "go away", waitFor, func(w *workspacev1.Workspace) bool { return w == nil })
}

// poll GETs the workspace until done holds, failing with what the last GET
// saw (a message argument would be evaluated before the first GET).
func (h *harness) poll(id, what string, within time.Duration, done func(*workspacev1.Workspace) bool) *workspacev1.Workspace {
	h.t.Helper()
	var last atomic.Pointer[workspacev1.Workspace]
	ok := assert.Eventually(h.t, func() bool {
		w := h.get(id)
		last.Store(w)
		return done(w)
	}, within, tick)
	if !ok {
		h.t.Fatalf("workspace %s did not %s within %s; last seen: %v", id, what, within, last.Load())
	}
	return last.Load()
}

// containers lists the containers of a workspace by label, keyed by name.
func containersOf(t testing.TB, id string) map[string]container.InspectResponse {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", provisioner.LabelWorkspaceID+"="+id))
	cs, err := docker.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
	require.NoError(t, err)
	out := map[string]container.InspectResponse{}
	for _, c := range cs {
		ci, err := docker.ContainerInspect(context.Background(), c.ID)
		if cerrdefs.IsNotFound(err) {
			continue // removed since the list
		}
		require.NoError(t, err)
		out[strings.TrimPrefix(ci.Name, "/")] = ci
	}
	return out
}

// objectsOf counts the networks and volumes of a workspace by label.
func objectsOf(t testing.TB, id string) (nets, vols []string) {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", provisioner.LabelWorkspaceID+"="+id))
	ns, err := docker.NetworkList(context.Background(), network.ListOptions{Filters: f})
	require.NoError(t, err)
	for _, n := range ns {
		nets = append(nets, n.Name)
	}
	vs, err := docker.VolumeList(context.Background(), volume.ListOptions{Filters: f})
	require.NoError(t, err)
	for _, v := range vs.Volumes {
		vols = append(vols, v.Name)
	}
	return nets, vols
}

// requireNothingLeft asserts no container, network or volume of id remains.
func requireNothingLeft(t testing.TB, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		nets, vols := objectsOf(t, id)
		return len(containersOf(t, id)) == 0 && len(nets) == 0 && len(vols) == 0
	}, waitFor, tick, "resources of %s left behind", id)
}

// putFile and getFile use the stub's file API through a service endpoint.
func putFile(t testing.TB, endpoint, name, content string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, endpoint+"files/"+name, strings.NewReader(content))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "PUT %s: %s", endpoint, body)
}

func getFile(t testing.TB, endpoint, name string) (int, string) {
	t.Helper()
	code, body, err := tryGetFile(endpoint, name)
	require.NoError(t, err)
	return code, body
}

// tryGetFile is getFile for use inside require.Eventually conditions.
func tryGetFile(endpoint, name string) (int, string, error) {
	resp, err := http.Get(endpoint + "files/" + name)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// logTail is how many warning and error lines a failed test prints.
const logTail = 60
