package provisioner

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aileron.dev/pkg/frontdoor"
)

// A workspace controls what its services answer on the health path. The probe
// must neither follow a redirect (a blind GET from the host's network to a
// host-local or metadata address) nor copy an answer's body into the status
// message users and operators read (a read-back of that GET).
func TestProbeNeverFollowsRedirectsNorEchoesBodies(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("metadata-secret"))
	}))
	defer target.Close()
	const leak = "body-from-the-workspace"
	key := frontdoor.Key([]byte("0123456789abcdef0123456789abcdef"))
	workspace := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The ingress admits only the workspace's secret: so must the probe send it.
		if r.Header.Get(frontdoor.Header) != key.WorkspaceSecret("w1") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/runtime/"):
			http.Redirect(w, r, target.URL+"/latest/meta-data/", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/terminal/"):
			http.Error(w, leak, http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer workspace.Close()
	_, port, err := net.SplitHostPort(workspace.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.ProbeHost = "127.0.0.1"
	// A client that follows redirects, as http.Client does by default: the
	// probe itself must refuse to.
	p := &Provisioner{cfg: cfg, key: key, probe: &http.Client{Timeout: 5 * time.Second}}
	ctx := context.Background()

	// A 3xx is judged by its status only: healthy, as the config documents,
	// and the redirect target is never asked.
	if err := p.probeOnce(ctx, "w1", port, "runtime"); err != nil {
		t.Fatalf("302: want healthy, got %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the probe followed a redirect: the target got %d request(s)", n)
	}

	if err := p.probeOnce(ctx, "w2", port, "runtime"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("another workspace's secret: want 403, got %v", err)
	}

	err = p.probeOnce(ctx, "w1", port, "terminal")
	if err == nil {
		t.Fatal("503: want unhealthy, got healthy")
	}
	if strings.Contains(err.Error(), leak) {
		t.Fatalf("the status message echoes the service's body: %q", err)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Fatalf("the status message lacks the status code: %q", err)
	}
}
