package provisioner_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/frontdoor"
	"aileron.dev/services/docker-provisioner/provisioner"
)

// ingressPath is where the gateway keeps the ingress secret.
const ingressPath = "/etc/aileron/egress/ingress-secret"

// TestIngressServesOnlyTheFrontDoor: another local process that knows a
// workspace's published ingress port gets a bare 403 without the workspace's
// ingress secret or with another workspace's, and the service sees nothing
// of it; with the secret the request works and the service never sees the
// header. The secret reaches the gateway as an owner-only file, in no
// argument or variable; a provisioner restart (same key from the bucket)
// leaves the gateway alone, and a stale file is rewritten.
func TestIngressServesOnlyTheFrontDoor(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	a, b := h.create("ingress-a", false), h.create("ingress-b", false)
	a, b = h.waitState(a.Id, "running"), h.waitState(b.Id, "running")
	secretA, secretB := h.ingressSecret(a.Id), h.ingressSecret(b.Id)
	require.NotEqual(t, secretA, secretB)

	// A client of its own: not the harness's front-door transport.
	local := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer local.CloseIdleConnections()
	runtime := a.Services.Runtime.Endpoint
	nonce := fmt.Sprintf("%x", time.Now().UnixNano())
	for name, secret := range map[string]string{"none": "", "another workspace's": secretB, "garbage": strings.Repeat("0", 64)} {
		for _, path := range []string{"info", "files/x", "../terminal/info"} {
			code, body := ingressGet(t, local, runtime+path+"?nonce=refused-"+nonce, secret)
			require.Equal(t, http.StatusForbidden, code, "%s secret, %s", name, path)
			require.Empty(t, body, "%s secret, %s: a refusal says nothing", name, path)
		}
	}
	// Another route (terminal) and the other workspace's own secret on it.
	code, _ := ingressGet(t, local, a.Services.Terminal.Endpoint+"info?nonce=refused-"+nonce, secretB)
	require.Equal(t, http.StatusForbidden, code)
	code, _ = ingressGet(t, local, b.Services.Runtime.Endpoint+"info?nonce=other-"+nonce, secretB)
	require.Equal(t, http.StatusOK, code, "b's secret opens b's ingress")

	code, body := ingressGet(t, local, runtime+"info?nonce=admitted-"+nonce, secretA)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"service":"runtime"`)

	// The stub logs every request it gets with its header names.
	var reqs []stubRequest
	require.Eventually(t, func() bool {
		reqs = stubRequests(t, provisioner.ContainerName("runtime", a.Id), nonce)
		return len(reqs) > 0
	}, waitFor, tick, "the admitted request never reached the runtime")
	require.Len(t, reqs, 1, "only the admitted request reaches the runtime: %+v", reqs)
	require.Contains(t, reqs[0].Query, "admitted-")
	require.NotContains(t, reqs[0].Headers, "X-Aileron-Ingress-Secret", "the service saw the ingress secret")
	require.Empty(t, stubRequests(t, provisioner.ContainerName("terminal", a.Id), nonce), "a refused request reached the terminal")

	// The secret is a file only the gateway's user reads, in no argument
	// or variable of the container (ps and docker inspect show those).
	gwName := provisioner.GatewayName(a.Id)
	hdr, content := readGatewayFile(t, gwName, ingressPath)
	require.Equal(t, secretA, content)
	require.EqualValues(t, 0o400, hdr.Mode&0o777)
	require.Equal(t, []int{65532, 65532}, []int{hdr.Uid, hdr.Gid})
	gw, err := docker.ContainerInspect(context.Background(), gwName)
	require.NoError(t, err)
	for _, s := range append(append(slices.Clone(gw.Config.Cmd), gw.Config.Env...), gw.Args...) {
		require.NotContains(t, s, secretA)
	}

	// Written once: later passes read the file back and find it right.
	require.Equal(t, 1, h.logs.Count("ingress secret written", a.Id))

	// Provisioner down: the gateway keeps serving the front door.
	h.stopProvisioner()
	code, _ = ingressGet(t, local, runtime+"healthz", secretA)
	require.Equal(t, http.StatusOK, code)
	// A stale secret file is enforced by the gateway (a's secret refused)...
	writeGatewayFile(t, gwName, "ingress-secret", secretB, 0o644)
	require.Eventually(t, func() bool {
		code, _ := ingressGet(t, local, runtime+"healthz", secretA)
		return code == http.StatusForbidden
	}, waitFor, tick, "the gateway never picked up the rewritten file")
	// ...until the restarted provisioner, with the same key, rewrites it.
	h.startProvisioner()
	require.Eventually(t, func() bool {
		code, _ := ingressGet(t, local, runtime+"healthz", secretA)
		return code == http.StatusOK
	}, waitFor, tick, "the restarted provisioner never restored the secret")
	hdr, content = readGatewayFile(t, gwName, ingressPath)
	require.Equal(t, secretA, content)
	require.EqualValues(t, 0o400, hdr.Mode&0o777)
	code, _ = ingressGet(t, local, runtime+"healthz", secretB)
	require.Equal(t, http.StatusForbidden, code)
	after, err := docker.ContainerInspect(context.Background(), gwName)
	require.NoError(t, err)
	require.Equal(t, gw.ID, after.ID, "the gateway was recreated")
	require.Equal(t, gw.State.StartedAt, after.State.StartedAt, "the gateway was restarted")
	require.Equal(t, "running", h.waitState(a.Id, "running").State)
	requireRunningEndpoints(t, h.get(b.Id))
	require.Equal(t, 2, h.logs.Count("ingress secret written", a.Id), "only the stale file is rewritten")
	require.Equal(t, 1, h.logs.Count("ingress secret written", b.Id), "a right file is left alone across a restart")
}

// requireRunningEndpoints asserts each endpoint of w answers through the
// front-door transport.
func requireRunningEndpoints(t *testing.T, w *workspacev1.Workspace) {
	t.Helper()
	code, body, err := tryGetFile(w.Services.Runtime.Endpoint, "missing")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, code, body)
}

// ingressGet GETs u with secret in frontdoor.Header ("" for none).
func ingressGet(t *testing.T, c *http.Client, u, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if secret != "" {
		req.Header.Set(frontdoor.Header, secret)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// stubRequest is one "request" line of the workspace stub's log.
type stubRequest struct {
	Msg     string   `json:"msg"`
	Path    string   `json:"path"`
	Query   string   `json:"query"`
	Headers []string `json:"headers"`
}

// stubRequests lists the requests a stub container logged whose query
// contains mark.
func stubRequests(t *testing.T, name, mark string) []stubRequest {
	t.Helper()
	var out []stubRequest
	for _, line := range containerStdout(t, name) {
		var r stubRequest
		if json.Unmarshal(line, &r) == nil && r.Msg == "request" && strings.Contains(r.Query, mark) {
			out = append(out, r)
		}
	}
	return out
}

func readGatewayFile(t *testing.T, name, path string) (*tar.Header, string) {
	t.Helper()
	rc, _, err := docker.CopyFromContainer(context.Background(), name, path)
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	require.NoError(t, err)
	b, err := io.ReadAll(tr)
	require.NoError(t, err)
	return hdr, string(b)
}

func writeGatewayFile(t *testing.T, name, file, content string, mode int64) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: file, Mode: mode, Uid: 65532, Gid: 65532, Size: int64(len(content))}))
	_, err := tw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, docker.CopyToContainer(context.Background(), name, "/etc/aileron/egress", &buf, container.CopyToContainerOptions{}))
}
