package provisioner_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"

	"aileron.dev/pkg/frontdoor"
	"aileron.dev/services/docker-provisioner/provisioner"

	"aileron.dev/pkg/workspace"
)

// BenchmarkCreateToRunning measures, per iteration, the time from POST
// /api/v1/workspaces to the workspace's watch stream showing "running" for a workspace of
// three services (runtime, terminal, browser), and the floor: creating and
// starting the same volumes, networks, gateway and service containers
// directly with the Docker API (services in parallel, as the provisioner
// does) until every service answers its health check through the ingress.
// It reports p50/p95 of both and their ratio. Run with -benchtime=Nx.
func BenchmarkCreateToRunning(b *testing.B) {
	h := newHarness(b, nil, nil)
	h.startProvisioner()
	w := newWatcher(b, h)
	var prov, floor []time.Duration
	for i := 0; b.Loop(); i++ {
		prov = append(prov, createViaAPI(b, h, w, fmt.Sprintf("bench-%d", i)))
		floor = append(floor, createDirect(b, h.cfg, fmt.Sprintf("floor%s%d", runID, i), 0))
	}
	reportPercentiles(b, "provisioner", prov)
	reportPercentiles(b, "floor", floor)
	b.ReportMetric(float64(percentile(prov, 50))/float64(percentile(floor, 50)), "ratio-p50")
	b.ReportMetric(float64(percentile(prov, 95))/float64(percentile(floor, 95)), "ratio-p95")
}

// BenchmarkConcurrentCreates50 measures the wall time from 50 concurrent
// POSTs to all 50 workspaces running, and reports per-workspace p50/p95;
// then the same 50 created concurrently with bare Docker API calls.
func BenchmarkConcurrentCreates50(b *testing.B) {
	const n = 50
	h := newHarness(b, nil, nil)
	h.startProvisioner()
	w := newWatcher(b, h)
	var walls, each, floorWalls, floorEach []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for j := range n {
			wg.Go(func() {
				d := createViaAPI(b, h, w, fmt.Sprintf("c%d-%02d", i, j))
				mu.Lock()
				each = append(each, d)
				mu.Unlock()
			})
		}
		wg.Wait()
		walls = append(walls, time.Since(start))

		start = time.Now()
		for j := range n {
			wg.Go(func() {
				d := createDirect(b, h.cfg, fmt.Sprintf("floor%s%d-%02d", runID, i, j), j)
				mu.Lock()
				floorEach = append(floorEach, d)
				mu.Unlock()
			})
		}
		wg.Wait()
		floorWalls = append(floorWalls, time.Since(start))
	}
	reportPercentiles(b, "each", each)
	reportPercentiles(b, "floor-each", floorEach)
	b.ReportMetric(float64(percentile(walls, 50).Milliseconds()), "wall-ms")
	b.ReportMetric(float64(percentile(floorWalls, 50).Milliseconds()), "floor-wall-ms")
}

// watcher records when each workspace first reports running, from one
// WatchWorkspaces stream (no polling load on the API while measuring).
type watcher struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running map[string]time.Time
	failed  map[string]string
}

func newWatcher(b *testing.B, h *harness) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	stream, err := h.api.Client.WatchWorkspaces(ctx, &workspacev1.WatchWorkspacesRequest{})
	require.NoError(b, err)
	w := &watcher{running: map[string]time.Time{}, failed: map[string]string{}}
	w.cond = sync.NewCond(&w.mu)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				return
			}
			ws := ev.GetWorkspace()
			w.mu.Lock()
			if _, seen := w.running[ws.GetId()]; !seen && ws.GetState() == "running" {
				w.running[ws.GetId()] = time.Now()
			}
			if ws.GetState() == "failed" {
				w.failed[ws.GetId()] = ws.GetStateReason()
			}
			w.cond.Broadcast()
			w.mu.Unlock()
		}
	}()
	return w
}

// wait returns when id first ran.
func (w *watcher) wait(b *testing.B, id string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if t, ok := w.running[id]; ok {
			return t
		}
		if reason, ok := w.failed[id]; ok {
			b.Fatalf("workspace %s failed: %s", id, reason)
		}
		w.cond.Wait()
	}
}

// createViaAPI POSTs a workspace, waits until the watch shows it running,
// deletes it (untimed) and returns the time to running.
func createViaAPI(b *testing.B, h *harness, w *watcher, name string) time.Duration {
	start := time.Now()
	resp, err := http.Post(h.api.URL+"/api/v1/workspaces", "application/json", strings.NewReader(`{"name":"`+name+`","provisioner":"docker"}`))
	require.NoError(b, err)
	var ws struct{ ID string }
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&ws))
	resp.Body.Close()
	require.NotEmpty(b, ws.ID)
	d := w.wait(b, ws.ID).Sub(start)
	req, _ := http.NewRequest(http.MethodDelete, h.api.URL+"/api/v1/workspaces/"+ws.ID, nil)
	r, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	r.Body.Close()
	h.waitGone(ws.ID)
	return d
}

// createDirect builds the same objects as the provisioner with bare Docker
// API calls, waits for health through the ingress, removes them (untimed)
// and returns the time to healthy. slot picks the floor's subnets.
func createDirect(b *testing.B, cfg provisioner.Config, id string, slot int) time.Duration {
	ctx := context.Background()
	labels := map[string]string{provisioner.LabelManagedBy: provisioner.ManagedBy, provisioner.LabelInstance: cfg.Instance, provisioner.LabelWorkspaceID: id}
	defer cleanupWorkspace(ctx, id)
	start := time.Now()
	// Volumes, then networks, each pair concurrently, as the provisioner does.
	var wg sync.WaitGroup
	for _, v := range []string{"workspace-data-" + id, "workspace-egress-" + id} {
		wg.Go(func() {
			_, err := docker.VolumeCreate(ctx, volume.CreateOptions{Name: v, Labels: labels})
			require.NoError(b, err)
		})
	}
	wg.Wait()
	// A pool of its own, so the floor never competes with the provisioner's.
	subnets := map[string]netip.Addr{
		"ws": netip.AddrFrom4([4]byte{10, 214, byte(slot), 0}),
		"br": netip.AddrFrom4([4]byte{10, 214, byte(slot), 16}),
	}
	for g, base := range subnets {
		wg.Go(func() {
			_, err := docker.NetworkCreate(ctx, "aileron-"+g+"-"+id, network.CreateOptions{Internal: true, Labels: labels,
				IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: base.String() + "/28"}}}})
			require.NoError(b, err)
		})
	}
	wg.Wait()
	ip := func(g string, host int) string {
		a := subnets[g]
		for range host {
			a = a.Next()
		}
		return a.String()
	}
	// Gateway and services concurrently, as the provisioner does.
	var port string
	ready := make(chan struct{})
	wg.Go(func() { port = startGatewayDirect(b, cfg, id, labels, ip); close(ready) })
	services := map[workspace.Service]string{"runtime": "ws", "terminal": "ws", "browser": "br"}
	offsets := map[workspace.Service]int{"runtime": 3, "terminal": 4, "browser": 3}
	for s, g := range services {
		wg.Go(func() {
			hc := benchHardened(cfg.Services.Get(s).MemoryMB)
			hc.NetworkMode = container.NetworkMode("aileron-" + g + "-" + id)
			hc.DNS = []string{"127.0.0.1"}
			hc.ExtraHosts = []string{"gateway:" + ip(g, 2)}
			if s != "browser" {
				hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "workspace-data-" + id, Target: "/workspace"}}
			}
			proxy := "HTTP_PROXY=http://" + ip(g, 2) + ":3128"
			c, err := docker.ContainerCreate(ctx, &container.Config{Image: cfg.Services.Get(s).Image, User: "65532:65532", Labels: labels, Env: []string{"PORT=8080", proxy}},
				hc, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
					"aileron-" + g + "-" + id: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip(g, offsets[s])}},
				}}, nil, "workspace-"+string(s)+"-"+id)
			if err == nil {
				err = docker.ContainerStart(ctx, c.ID, container.StartOptions{})
			}
			require.NoError(b, err)
			<-ready
			for !healthy("http://127.0.0.1:" + port + "/" + string(s) + "/healthz") {
				time.Sleep(20 * time.Millisecond) // the provisioner's first probe interval
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

func startGatewayDirect(b *testing.B, cfg provisioner.Config, id string, labels map[string]string, ip func(string, int) string) string {
	ctx := context.Background()
	hc := benchHardened(cfg.Gateway.MemoryMB)
	hc.NetworkMode = container.NetworkMode(cfg.OutsideNetwork)
	hc.PortBindings = nat.PortMap{"8080/tcp": {{HostIP: "127.0.0.1"}}}
	hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "workspace-egress-" + id, Target: "/etc/aileron/egress"}}
	args := []string{"--listen", "workspace=" + ip("ws", 2) + ":3128", "--listen", "browser=" + ip("br", 2) + ":3129",
		"--policy-file", "/etc/aileron/egress/policy.json", "--secret-file", "/etc/aileron/egress/ingress-secret", "--dns", cfg.Gateway.UpstreamDNS, "--ingress", ":8080",
		"--route", "/runtime/=" + ip("ws", 3) + ":8080", "--route", "/terminal/=" + ip("ws", 4) + ":8080", "--route", "/browser/=" + ip("br", 3) + ":8080"}
	c, err := docker.ContainerCreate(ctx, &container.Config{Image: cfg.Gateway.Image, Cmd: args, User: "65532:65532", Labels: labels,
		ExposedPorts: nat.PortSet{"8080/tcp": {}}}, hc, nil, nil, "workspace-egress-"+id)
	require.NoError(b, err)
	for _, g := range []string{"ws", "br"} {
		require.NoError(b, docker.NetworkConnect(ctx, "aileron-"+g+"-"+id, c.ID, &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip(g, 2)}}))
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	policy := []byte(`{"workspace":{"group":"workspace","mode":"deny","allowed_domains":[]},"browser":{"group":"browser","mode":"deny","allowed_domains":[]}}`)
	require.NoError(b, tw.WriteHeader(&tar.Header{Name: "policy.json", Mode: 0o644, Size: int64(len(policy))}))
	_, _ = tw.Write(policy)
	require.NoError(b, tw.WriteHeader(&tar.Header{Name: "ingress-secret", Mode: 0o400, Uid: 65532, Gid: 65532, Size: int64(len(benchSecret))}))
	_, _ = tw.Write([]byte(benchSecret))
	require.NoError(b, tw.Close())
	require.NoError(b, docker.CopyToContainer(ctx, c.ID, "/etc/aileron/egress", &buf, container.CopyToContainerOptions{}))
	require.NoError(b, docker.ContainerStart(ctx, c.ID, container.StartOptions{}))
	ci, err := docker.ContainerInspect(ctx, c.ID)
	require.NoError(b, err)
	return ci.NetworkSettings.Ports["8080/tcp"][0].HostPort
}

func benchHardened(memMB int64) *container.HostConfig {
	pids := int64(256)
	return &container.HostConfig{
		CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges:true"}, ReadonlyRootfs: true,
		Tmpfs:         map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=64m"},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		Resources:     container.Resources{NanoCPUs: 5e8, Memory: memMB << 20, MemorySwap: memMB << 20, PidsLimit: &pids},
	}
}

// benchSecret is the ingress secret of the floor's bare gateways.
const benchSecret = "be9c45ec2e7be9c45ec2e7be9c45ec2e7be9c45ec2e7be9c45ec2e7be9c45ec2"

// healthy GETs u through a floor gateway's ingress, with its secret.
func healthy(u string) bool {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	req.Header.Set(frontdoor.Header, benchSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	b.ReportMetric(float64(percentile(ds, 50).Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(percentile(ds, 95).Microseconds())/1000, name+"-p95-ms")
}
