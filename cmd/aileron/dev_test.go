package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	dockerprov "aileron.dev/services/docker-provisioner/provisioner"
)

// startDev runs `aileron dev` in-process on free ports (NATS in-process, as
// by default) and returns its REST URL; a later flag in extra wins.
func startDev(t testing.TB, extra ...string) string {
	t.Helper()
	return startDevWith(t, nil, extra...)
}

// startDevWith is startDev with tweak applied to the parsed configuration.
func startDevWith(t testing.TB, tweak func(*devConfig), extra ...string) string {
	t.Helper()
	args := append([]string{"--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"}, extra...)
	cfg, err := parseDev(args, io.Discard)
	require.NoError(t, err)
	if tweak != nil {
		tweak(&cfg)
	}
	ready := make(chan string, 1)
	cfg.ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The logs are kept: a failed test prints its warnings and errors,
	// AILERON_DEV_TEST_LOG=1 every line.
	logs := &syncBuffer{}
	go func() { done <- dev(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		switch {
		case os.Getenv("AILERON_DEV_TEST_LOG") != "":
			t.Logf("aileron dev's logs:\n%s", logs.String())
		case t.Failed():
			t.Logf("aileron dev's warnings and errors:\n%s", problems(logs.String(), 80))
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("aileron dev stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("aileron dev did not start within 60s")
	}
	return ""
}

func getJSON(t testing.TB, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// buildImages builds the local workspace images, as `make images` does: the
// stub and the gateway, and the runtime image from Debian's packages (cached
// by hack/workspace-images.sh: seconds when its base exists, minutes cold).
// A build that fails fails the test.
func buildImages(t testing.TB) {
	t.Helper()
	out, err := exec.Command("bash", "../../services/docker-provisioner/hack/build-images.sh").CombinedOutput()
	require.NoError(t, err, "build images: %s", out)
	out, err = exec.Command("bash", "../../hack/workspace-images.sh").CombinedOutput()
	require.NoError(t, err, "build the workspace images: %s", out)
}

// TestDevServesTheREADMEDemo runs the README's curl against aileron dev on
// the real Docker Engine: the workspace reaches running, then deletes
// without leaving a container, network or volume behind.
func TestDevServesTheREADMEDemo(t *testing.T) {
	buildImages(t)
	base := startDev(t, "--docker=on")
	w := restCreate(t, base, `{"name": "my-workspace", "provisioner": "docker"}`)
	require.Equal(t, "creating", w["state"])
	id := w["id"].(string)

	// The in-process firewall service computed the policy from the shipped defaults.
	require.Eventually(t, func() bool {
		fw := getJSON(t, base+"/api/v1/workspaces/"+id+"/firewall")
		domains, _ := fw["status"].(map[string]any)["workspace_effective_allowed_domains"].([]any)
		return len(domains) > 0
	}, 20*time.Second, 50*time.Millisecond)

	page, err := http.Get(base + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(body), "<html")

	require.Eventually(t, func() bool { return getJSON(t, base+"/api/v1/workspaces/"+id)["state"] == "running" },
		3*time.Minute, 200*time.Millisecond, "the demo workspace must reach running")
	requireFrontDoor(t, base, id)
	requireCreateTimeline(t, base, id)

	restDelete(t, base, id)
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=aileron.dev/workspace-id="+id).CombinedOutput()
	require.NoError(t, err)
	require.Empty(t, strings.TrimSpace(string(out)), "no container of the workspace is left")
	out, err = exec.Command("docker", "volume", "ls", "-q", "--filter", "label=aileron.dev/workspace-id="+id).CombinedOutput()
	require.NoError(t, err)
	require.Empty(t, strings.TrimSpace(string(out)), "no volume of the workspace is left")
	out, err = exec.Command("docker", "network", "ls", "-q", "--filter", "label=aileron.dev/workspace-id="+id).CombinedOutput()
	require.NoError(t, err)
	require.Empty(t, strings.TrimSpace(string(out)), "no network of the workspace is left")
}

// requireFrontDoor checks that the runtime's reported endpoint is its front
// door on the apps domain and reaches the runtime with a credential only.
func requireFrontDoor(t *testing.T, base, id string) {
	t.Helper()
	w := getJSON(t, base+"/api/v1/workspaces/"+id)
	runtime := w["services"].(map[string]any)["runtime"].(map[string]any)
	port := base[strings.LastIndex(base, ":")+1:]
	host := "runtime--" + id + ".localhost:" + port
	require.Equal(t, "http://"+host+"/", runtime["endpoint"])
	healthz := func(token string) int {
		req, err := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		require.NoError(t, err)
		req.Host = host // *.localhost is loopback in browsers; Go's resolver needs no help with an address
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Running means the provisioner's health probes, which carry the
	// workspace's ingress secret as the front door does, passed the ingress.
	// Another local process with only the ingress port gets nothing.
	direct, err := http.Get("http://" + ingressAddr(t, id) + "/runtime/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(direct.Body)
	direct.Body.Close()
	require.Equal(t, http.StatusForbidden, direct.StatusCode, "the ingress serves only requests with the workspace's ingress secret")
	require.Empty(t, body)

	require.Equal(t, http.StatusUnauthorized, healthz(""), "the front door wants a credential even in open dev mode")
	require.Equal(t, http.StatusOK, healthz("dev"), "the front door reaches the runtime")

	// A browser's way in: a one-time link for the terminal, then its cookie.
	resp, err := http.Post(base+"/api/v1/workspaces/"+id+"/services/terminal:open", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	var open map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&open))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", open)
	link, err := url.Parse(open["url"].(string))
	require.NoError(t, err)
	require.Equal(t, "terminal--"+id+".localhost:"+port, link.Host)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	enter := func(host string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, base+link.RequestURI(), nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	require.Equal(t, http.StatusUnauthorized, enter(host).StatusCode, "a terminal ticket does not open the runtime")
	entered := enter(link.Host)
	require.Equal(t, http.StatusSeeOther, entered.StatusCode)
	require.Len(t, entered.Cookies(), 1)
	req, err := http.NewRequest(http.MethodGet, base+"/v1/terminals", nil)
	require.NoError(t, err)
	req.Host = link.Host
	req.AddCookie(entered.Cookies()[0])
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var list map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, list, "terminals", "the session reaches the terminal's daemon through its ingress")
}

func TestDevRefusesRemoteListenWithoutAuth(t *testing.T) {
	cfg, err := parseDev([]string{"--data-dir", t.TempDir(), "--http", "0.0.0.0:0", "--grpc", "127.0.0.1:0", "--nats-port", "-1", "--docker=off"}, io.Discard)
	require.NoError(t, err)
	err = dev(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "loopback")
}

// ingressAddr is the loopback address the gateway of workspace id publishes
// its ingress on.
func ingressAddr(t *testing.T, id string) string {
	t.Helper()
	cli, err := dockerprov.NewDockerClient()
	require.NoError(t, err)
	defer cli.Close()
	c, err := cli.ContainerInspect(context.Background(), dockerprov.GatewayName(id))
	require.NoError(t, err)
	for _, b := range c.NetworkSettings.Ports["8080/tcp"] {
		return net.JoinHostPort(b.HostIP, b.HostPort)
	}
	t.Fatalf("gateway of %s publishes no ingress port", id)
	return ""
}

// restCreate creates a workspace from the JSON body and returns it.
func restCreate(t testing.TB, base, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/workspaces", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var w map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&w))
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	return w
}

// restCommand posts a lifecycle command (stop, start, restart) and requires
// it accepted.
func restCommand(t *testing.T, base, id, verb string) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/workspaces/"+id+"/"+verb, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s: %s", verb, body)
}

// restWaitState waits for the workspace to reach state.
func restWaitState(t testing.TB, base, id, state string) {
	t.Helper()
	require.Eventually(t, func() bool { return getJSON(t, base+"/api/v1/workspaces/"+id)["state"] == state },
		3*time.Minute, 200*time.Millisecond, "workspace must reach %s", state)
}

// restDelete deletes the workspace and waits until it is gone (404).
func restDelete(t testing.TB, base, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/v1/workspaces/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Eventually(t, func() bool {
		r, err := http.Get(base + "/api/v1/workspaces/" + id)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusNotFound
	}, 2*time.Minute, 200*time.Millisecond, "the workspace is deleted")
}

// problems returns the last n lines of logs at WARN or ERROR.
func problems(logs string, n int) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}
