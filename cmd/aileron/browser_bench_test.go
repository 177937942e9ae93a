package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"github.com/coder/websocket"
	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/stretchr/testify/require"

	dockerprov "aileron.dev/services/docker-provisioner/provisioner"
)

// animated is a page that repaints every frame, so the screencast has
// something new to send all the time.
const animated = `data:text/html,<title>animated</title><body style="margin:0"><canvas id=c width=800 height=600></canvas>` +
	`<script>const x=document.getElementById('c').getContext('2d');let i=0;` +
	`(function f(){x.fillStyle='rgb('+(i++&255)+',90,160)';x.fillRect(0,0,800,600);requestAnimationFrame(f)})()</script>`

// BenchmarkBrowser measures the browser service on `aileron dev` with the
// real image, each side by side with a baseline in the same run:
//   - cdp: a Runtime.evaluate round trip from a CDP client through the front
//     door (bearer token, owner check, ingress, browser daemon, Chromium)
//     against the same call to a Chromium of the same version on this
//     machine, directly on its DevTools port;
//   - ready: from container create to the daemon's /healthz answering 200
//     (Chromium up and answering DevTools), against Chromium alone in the
//     same image and limits starting, loading about:blank and exiting;
//   - fps: screencast frames per second of a page that repaints every frame,
//     read through the front door.
//
// Run with -benchtime=Nx (N round trips; ready is measured 5 times):
//
//	go test ./cmd/aileron -run '^$' -bench BenchmarkBrowser -benchtime 200x
func BenchmarkBrowser(b *testing.B) {
	buildImages(b)
	base := startDev(b, "--docker=on")
	w := restCreate(b, base, `{"name": "bench-browser", "provisioner": "docker"}`)
	id := w["id"].(string)
	b.Cleanup(func() { restDelete(b, base, id) })
	restWaitState(b, base, id, "running")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	door := newServiceDoor(b, base, "browser", id)
	var v struct {
		WS string `json:"webSocketDebuggerUrl"`
	}
	resp := door.do(http.MethodGet, "/json/version", "", nil)
	require.NoError(b, json.NewDecoder(resp.Body).Decode(&v))
	resp.Body.Close()
	alloc, cancelAlloc := remote.NewAllocator(ctx, loopback(b, v.WS), remote.NoModifyURL, remote.WithDialHTTPHeader(frontDoorHeader(v.WS)))
	defer cancelAlloc()
	viaDoor, cancelDoor := chromedp.NewContext(alloc)
	defer cancelDoor()
	require.NoError(b, chromedp.Do(viaDoor, chromedp.Navigate("about:blank")))

	path := os.Getenv("AILERON_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	local, cancelLocal := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless)...)
	defer cancelLocal()
	direct, cancelDirect := chromedp.NewContext(local)
	defer cancelDirect()
	require.NoError(b, chromedp.Do(direct, chromedp.Navigate("about:blank")))

	eval := func(tab context.Context) time.Duration {
		start := time.Now()
		n, err := chromedp.Run(tab, chromedp.Evaluate[int]("1+1"))
		require.NoError(b, err)
		require.Equal(b, 2, n)
		return time.Since(start)
	}
	var rttDoor, rttDirect []time.Duration
	for b.Loop() {
		rttDoor = append(rttDoor, eval(viaDoor))
		rttDirect = append(rttDirect, eval(direct))
	}
	report := func(name string, ds []time.Duration) {
		b.ReportMetric(float64(pct(ds, 50).Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(pct(ds, 95).Microseconds())/1000, name+"-p95-ms")
	}
	report("cdp-front-door", rttDoor)
	report("cdp-direct", rttDirect)
	b.ReportMetric(float64(pct(rttDoor, 50))/float64(pct(rttDirect, 50)), "cdp-ratio-p50")

	docker, err := dockerprov.NewDockerClient()
	require.NoError(b, err)
	defer docker.Close()
	var daemonReady, chromiumAlone []time.Duration
	for i := range 5 {
		daemonReady = append(daemonReady, browserReady(b, ctx, docker, fmt.Sprintf("aileron-bench-browser-%d", i)))
		chromiumAlone = append(chromiumAlone, chromiumRun(b, ctx, docker, fmt.Sprintf("aileron-bench-chromium-%d", i)))
	}
	report("ready-daemon", daemonReady)
	report("ready-chromium-alone", chromiumAlone)
	b.ReportMetric(float64(pct(daemonReady, 50))/float64(pct(chromiumAlone, 50)), "ready-ratio-p50")

	require.NoError(b, chromedp.Do(viaDoor, chromedp.Navigate(animated)))
	target := string(chromedp.FromContext(viaDoor).Target.TargetID)
	cast := "ws://" + door.host + "/v1/screencast?target=" + target
	conn, _, err := websocket.Dial(ctx, loopback(b, cast), &websocket.DialOptions{Host: door.host, HTTPHeader: frontDoorHeader(cast)})
	require.NoError(b, err)
	defer conn.CloseNow()
	conn.SetReadLimit(32 << 20)
	// Frames for five seconds; the read that the deadline cuts ends it.
	const window = 5 * time.Second
	reading, stop := context.WithTimeout(ctx, window)
	defer stop()
	frames := 0
	for {
		typ, _, err := conn.Read(reading)
		if err != nil {
			require.ErrorIs(b, reading.Err(), context.DeadlineExceeded, "the screencast failed: %v", err)
			break
		}
		if typ == websocket.MessageBinary {
			frames++
		}
	}
	require.Positive(b, frames, "no screencast frame")
	b.ReportMetric(float64(frames)/window.Seconds(), "screencast-fps")
}

// benchBrowserHost is the hardening of the provisioner's browser container.
func benchBrowserHost() *container.HostConfig {
	pids := int64(256)
	return &container.HostConfig{
		CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges:true"}, ReadonlyRootfs: true,
		Tmpfs:     map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=256m"},
		ShmSize:   256 << 20,
		Resources: container.Resources{NanoCPUs: 1e9, Memory: 1536 << 20, MemorySwap: 1536 << 20, PidsLimit: &pids},
	}
}

// browserReady creates and starts a browser container and returns the time
// until its daemon's /healthz answers 200.
func browserReady(b *testing.B, ctx context.Context, docker *dockerclient.Client, name string) time.Duration {
	host := benchBrowserHost()
	host.PortBindings = nat.PortMap{"8080/tcp": {{HostIP: "127.0.0.1"}}}
	start := time.Now()
	c, err := docker.ContainerCreate(ctx, &container.Config{Image: dockerprov.DefaultBrowserImage, User: "65532:65532",
		ExposedPorts: nat.PortSet{"8080/tcp": {}}}, host, nil, nil, name)
	require.NoError(b, err)
	defer func() { _ = docker.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}) }()
	require.NoError(b, docker.ContainerStart(ctx, c.ID, container.StartOptions{}))
	info, err := docker.ContainerInspect(ctx, c.ID)
	require.NoError(b, err)
	url := "http://127.0.0.1:" + info.NetworkSettings.Ports["8080/tcp"][0].HostPort + "/healthz"
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		require.NoError(b, ctx.Err(), "the browser daemon never answered")
		time.Sleep(10 * time.Millisecond)
	}
}

// chromiumRun runs Chromium alone in the browser image with the same
// limits, loading about:blank and exiting, and returns how long it took.
func chromiumRun(b *testing.B, ctx context.Context, docker *dockerclient.Client, name string) time.Duration {
	start := time.Now()
	c, err := docker.ContainerCreate(ctx, &container.Config{Image: dockerprov.DefaultBrowserImage, User: "65532:65532",
		Entrypoint: []string{"/usr/lib/chromium/chromium-headless-shell"},
		Cmd:        []string{"--headless", "--no-sandbox", "--user-data-dir=/tmp/p", "--dump-dom", "about:blank"}}, benchBrowserHost(), nil, nil, name)
	require.NoError(b, err)
	defer func() { _ = docker.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}) }()
	waitC, errC := docker.ContainerWait(ctx, c.ID, container.WaitConditionNextExit)
	require.NoError(b, docker.ContainerStart(ctx, c.ID, container.StartOptions{}))
	select {
	case res := <-waitC:
		require.Zero(b, res.StatusCode, "chromium --dump-dom failed")
	case err := <-errC:
		require.NoError(b, err)
	}
	return time.Since(start)
}
