package ingress_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/websocket"

	"aileron.dev/services/firewall/ingress"
)

func TestParseRelay(t *testing.T) {
	listen, target, err := ingress.ParseRelay("10.0.0.2:9222=10.0.1.3:8080")
	require.NoError(t, err)
	require.Equal(t, "10.0.0.2:9222", listen)
	require.Equal(t, "http://10.0.1.3:8080", target.String())
	for _, bad := range []string{"", "10.0.0.2:9222", "=h:1", "10.0.0.2:9222=", "a=ftp://h:1", "a=http://h:1/?q"} {
		_, _, err := ingress.ParseRelay(bad)
		require.ErrorIs(t, err, ingress.ErrInvalidRoute, bad)
	}
}

// The relay passes the DevTools paths with their Host (the browser daemon
// names its WebSocket URLs after it) and refuses everything else of the
// browser daemon: its preview page, screenshots, tabs API.
func TestRelayPassesDevToolsOnly(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s secret=%q", r.Host, r.URL.Path, r.Header.Get(ingress.Header))
	})
	mux.Handle("/devtools/page/1", websocket.Handler(func(c *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(c, &msg) == nil {
			_ = websocket.Message.Send(c, "cdp:"+msg)
		}
	}))
	browser := httptest.NewServer(mux)
	t.Cleanup(browser.Close)
	_, target, err := ingress.ParseRelay("x=" + browser.URL)
	require.NoError(t, err)
	relay := httptest.NewServer(ingress.NewRelay(target, slog.New(slog.DiscardHandler)))
	t.Cleanup(relay.Close)
	defer http.DefaultClient.CloseIdleConnections()
	host := strings.TrimPrefix(relay.URL, "http://")

	for path, want := range map[string]string{
		"/json/version":  host + " /json/version secret=\"\"",
		"/json":          host + " /json secret=\"\"",
		"/":              "404 page not found\n",
		"/v1/tabs":       "404 page not found\n",
		"/jsonx":         "404 page not found\n",
		"/v1/screencast": "404 page not found\n",
	} {
		status, body := getWith(t, relay.URL+path, secret)
		require.Equal(t, want, body, path)
		if strings.HasPrefix(want, "404") {
			require.Equal(t, http.StatusNotFound, status, path)
		} else {
			require.Equal(t, http.StatusOK, status, path)
		}
	}

	resp, err := http.Post(relay.URL+"/v1/activity", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "only GET of the activity")

	cfg, err := websocket.NewConfig("ws"+strings.TrimPrefix(relay.URL, "http")+"/devtools/page/1", relay.URL)
	require.NoError(t, err)
	c, err := websocket.DialConfig(cfg)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, websocket.Message.Send(c, `{"id":1,"method":"Page.reload"}`))
	var got string
	require.NoError(t, websocket.Message.Receive(c, &got))
	require.Equal(t, `cdp:{"id":1,"method":"Page.reload"}`, got)
}
