package browser

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRestartsChromiumThatDiesOrHangs(t *testing.T) {
	h := start(t, "")
	web := pages(t)
	first := h.sup.Status()
	require.Equal(t, StateRunning, first.State)
	require.Contains(t, first.Version, "Chrome/")
	require.NotZero(t, first.PID)

	// Killed: /healthz goes 503 naming the state, then 200 again.
	require.NoError(t, syscall.Kill(first.PID, syscall.SIGKILL))
	var body map[string]string
	require.Eventually(t, func() bool { return h.do("GET", "/healthz", nil, &body) == http.StatusServiceUnavailable }, 10*time.Second, 5*time.Millisecond)
	require.Contains(t, []string{"restarting", "starting"}, body["state"])
	h.awaitHealthy()
	var st Status
	require.Equal(t, http.StatusOK, h.do("GET", "/v1/status", nil, &st))
	require.Equal(t, 1, st.Restarts)
	require.Contains(t, st.LastExit, "killed")
	require.NotEqual(t, first.PID, st.PID)
	require.Equal(t, StateRunning, st.State)
	tab := h.newTab(web.URL + "/")
	h.awaitEval(tab.ID, "document.title", "Hello")
	requireGone(t, first.PID)

	// Hung (stopped, so it never answers): restarted as well.
	require.NoError(t, syscall.Kill(st.PID, syscall.SIGSTOP))
	require.Eventually(t, func() bool { return h.sup.Status().Restarts == 2 }, 30*time.Second, 20*time.Millisecond)
	h.awaitHealthy()
	require.Equal(t, http.StatusOK, h.do("GET", "/v1/status", nil, &st))
	require.Contains(t, st.LastExit, "not answering")
	requireGone(t, first.PID)
}

// requireGone asserts no process of pid's group is left, zombies included.
func requireGone(t *testing.T, pgid int) {
	t.Helper()
	require.Eventually(t, func() bool { return syscall.Kill(-pgid, 0) == syscall.ESRCH }, 10*time.Second, 20*time.Millisecond)
}

// recordingProxy is an HTTP proxy that answers every request itself and
// records what it was asked for.
type recordingProxy struct {
	mu   sync.Mutex
	seen []string
}

func (p *recordingProxy) saw(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.seen {
		if x == s {
			return true
		}
	}
	return false
}

func (p *recordingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if r.Method == http.MethodConnect {
		p.seen = append(p.seen, "CONNECT "+r.Host)
	} else {
		p.seen = append(p.seen, r.Method+" "+r.URL.String())
	}
	p.mu.Unlock()
	if r.Method == http.MethodConnect {
		http.Error(w, "no tunnels here", http.StatusForbidden)
		return
	}
	_, _ = io.WriteString(w, "<!doctype html><title>via proxy</title>")
}

func TestProxyCarriesAllTraffic(t *testing.T) {
	p := &recordingProxy{}
	proxy := httptest.NewServer(p)
	t.Cleanup(proxy.Close)
	h := start(t, proxy.URL)

	tab := h.newTab("http://allowed.test/")
	h.awaitEval(tab.ID, "document.title", "via proxy")
	require.True(t, p.saw("GET http://allowed.test/"), "%v", p.seen)

	// https goes through a tunnel the proxy was asked for by name.
	require.Equal(t, http.StatusOK, h.status("POST", "/v1/tabs/"+tab.ID+"/navigate", map[string]string{"url": "https://secure.test/"}))
	require.Eventually(t, func() bool { return p.saw("CONNECT secure.test:443") }, 20*time.Second, 20*time.Millisecond)
}

func TestArgsNeverLetChromiumResolve(t *testing.T) {
	o := Options{Proxy: "http://egress.internal:3128", WindowSize: "1280,800", DiskCacheBytes: 1 << 20}
	args, err := o.Args("/tmp/p")
	require.NoError(t, err)
	require.Contains(t, args, "--proxy-server=http://egress.internal:3128")
	require.Contains(t, args, "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE egress.internal")
	for _, f := range []string{"--headless", "--no-sandbox", "--disable-quic", "--dns-prefetch-disable", "--no-first-run",
		"--disable-background-networking", "--force-webrtc-ip-handling-policy=disable_non_proxied_udp", "--user-data-dir=/tmp/p",
		"--disk-cache-size=1048576", "--window-size=1280,800"} {
		require.Contains(t, args, f)
	}
	o.Proxy = ""
	args, err = o.Args("/tmp/p")
	require.NoError(t, err)
	for _, a := range args {
		require.False(t, strings.HasPrefix(a, "--proxy-server") || strings.HasPrefix(a, "--host-resolver-rules"), a)
	}
	for _, bad := range []string{"ftp://x:1", "http://user:pw@x:1", "http://x", "http://x:1/path"} {
		o.Proxy = bad
		_, err := o.Args("/tmp/p")
		require.Error(t, err, bad)
	}
}

func TestCheckURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"http://example.com/": true, "https://example.com/a?b#c": true, "about:blank": true,
		"file:///etc/passwd": false, "javascript:alert(1)": false, "chrome://settings": false,
		"data:text/html,x": false, "about:config": false, "http://": false, "HTTP//x": false, "": false,
	} {
		require.Equal(t, ok, CheckURL(u) == nil, u)
	}
}
