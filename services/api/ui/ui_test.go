package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/api/ui"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name, method, path string
		status             int
		contentType, body  string
	}{
		{"index", "GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="/assets/js/app.js">`},
		{"in-app path serves the app", "GET", "/workspaces/abcdefghijklmnopqrst", 200, "text/html; charset=utf-8", `id="main"`},
		{"create path serves the app", "GET", "/new", 200, "text/html; charset=utf-8", `id="main"`},
		{"module", "GET", "/assets/js/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"stylesheet", "GET", "/assets/app.css", 200, "text/css; charset=utf-8", ":root"},
		{"icon", "GET", "/assets/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"missing asset", "GET", "/assets/js/nope.js", 404, "text/plain; charset=utf-8", "404"},
		{"missing file", "GET", "/favicon.ico", 404, "text/plain; charset=utf-8", "404"},
		{"traversal stays inside", "GET", "/assets/../../ui.go", 404, "text/plain; charset=utf-8", "404"},
		{"head", "HEAD", "/assets/app.css", 200, "text/css; charset=utf-8", ""},
		{"post refused", "POST", "/", 405, "text/plain; charset=utf-8", "method not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, tt.contentType, resp.Header.Get("Content-Type"))
			require.Contains(t, string(body), tt.body)
			require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/assets/app.css")
	require.NoError(t, err)
	_ = resp.Body.Close()
	etag := resp.Header.Get("ETag")
	require.True(t, strings.HasPrefix(etag, `"`), "etag %q", etag)
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))

	req, err := http.NewRequest("GET", srv.URL+"/assets/app.css", nil)
	require.NoError(t, err)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotModified, resp.StatusCode)
}
