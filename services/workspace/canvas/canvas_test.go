package canvas_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMarkdown: index.md written through the runtime is the canvas's home
// page, rendered, its raw HTML left out, under a strict policy and with
// the live-reload script.
func TestMarkdown(t *testing.T) {
	h := newHarness(t, "")
	h.write("canvas/index.md", "# Hello canvas\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n\n[other](other.md)\n")
	h.write("canvas/other.md", "## Other page\n")

	resp, body := h.get("/")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, body, "<h1>Hello canvas</h1>")
	require.Contains(t, body, "<table>", "GitHub tables are rendered")
	require.NotContains(t, body, "<script>alert", "raw HTML in Markdown is not rendered")
	require.Contains(t, body, `<script src="/_canvas/reload.js?gen=`)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")

	resp, body = h.get("/other.md")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "<h2>Other page</h2>")

	resp, body = h.get("/_canvas/reload.js")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, body, "EventSource")
}

// TestTypes: an HTML page with its assets, images, PDF and text are served
// with their types, byte for byte (HTML with the reload script after it).
func TestTypes(t *testing.T) {
	h := newHarness(t, "")
	page := "<!doctype html><html><head><link rel=stylesheet href=style.css></head><body><img src=pic.png></body></html>"
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 32)
	pdf := "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
	h.write("canvas/site/index.html", page)
	h.write("canvas/site/style.css", "body { color: red }")
	h.write("canvas/site/app.js", "console.log(1)")
	h.write("canvas/site/pic.png", png)
	h.write("canvas/site/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")
	h.write("canvas/report.pdf", pdf)
	h.write("canvas/notes.txt", "plain notes")
	h.write("canvas/README", "no extension")
	h.write("canvas/blob.bin", "\x00\x01")

	for _, tt := range []struct{ path, contentType, body string }{
		{"/site/style.css", "text/css; charset=utf-8", "body { color: red }"},
		{"/site/app.js", "text/javascript; charset=utf-8", "console.log(1)"},
		{"/site/pic.png", "image/png", png},
		{"/site/logo.svg", "image/svg+xml", "<svg xmlns='http://www.w3.org/2000/svg'/>"},
		{"/report.pdf", "application/pdf", pdf},
		{"/notes.txt", "text/plain; charset=utf-8", "plain notes"},
		{"/README", "text/plain; charset=utf-8", "no extension"},
		{"/blob.bin", "application/octet-stream", "\x00\x01"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := h.on(t).get(tt.path)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			require.Equal(t, tt.contentType, resp.Header.Get("Content-Type"))
			require.Equal(t, tt.body, body)
			require.Equal(t, fmt.Sprint(len(tt.body)), resp.Header.Get("Content-Length"))
		})
	}

	resp, _ := h.get("/site")
	require.Equal(t, http.StatusFound, resp.StatusCode, "a directory without its slash is redirected")
	require.Equal(t, "/site/", resp.Header.Get("Location"))
	resp, body := h.get("/site/")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(body, page), "the page comes first, as written")
	require.Contains(t, body[len(page):], `<script src="/_canvas/reload.js?gen=`)
	require.Equal(t, fmt.Sprint(len(body)), resp.Header.Get("Content-Length"))

	resp, body = h.do(http.MethodHead, "/report.pdf")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/pdf", resp.Header.Get("Content-Type"))
	require.Empty(t, body)
}

// TestListing: a directory without an index lists its entries, escaped,
// under the pages' policy.
func TestListing(t *testing.T) {
	h := newHarness(t, "")
	h.write("canvas/data/a.txt", "a")
	h.write("canvas/data/<b>.txt", "b")
	h.write("canvas/data/sub/c.txt", "c")
	resp, body := h.get("/data/")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, body, `<a href="a.txt">a.txt</a>`)
	require.Contains(t, body, `<a href="sub/">sub/</a>`)
	require.Contains(t, body, "&lt;b&gt;.txt")
	require.NotContains(t, body, "<b>.txt")
}

// TestRefusals: every way out of the canvas folder, and what it cannot
// serve, is refused with its code.
func TestRefusals(t *testing.T) {
	h := newHarness(t, "")
	h.write("secret.txt", "the secret")
	h.write("private/key.txt", "key")
	h.write("canvas/notes.txt", "notes")
	h.write("canvas/big.txt", strings.Repeat("x", maxFileBytes+1))
	h.write("canvas/big.md", strings.Repeat("x", maxFileBytes+1))
	canvasDir := filepath.Join(h.root, "canvas")
	links := map[string]string{
		"abs.txt":   filepath.Join(h.root, "secret.txt"), // absolute, inside the workspace
		"rel.txt":   "../secret.txt",
		"up":        "..",
		"priv":      "../private",
		"alias.txt": "notes.txt",   // stays inside: served
		"self":      ".",           // stays inside: served
		"dangling":  "missing.txt", // nothing there
		"host":      "/etc/passwd", // outside the workspace too
	}
	for name, target := range links {
		require.NoError(t, os.Symlink(target, filepath.Join(canvasDir, name)))
	}

	resp, body := h.get("/alias.txt")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "notes", body)
	resp, body = h.get("/self/self/notes.txt")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "notes", body)

	for _, tt := range []struct {
		path   string
		status int
		code   string
	}{
		{"/../secret.txt", http.StatusBadRequest, "CANVAS_PATH_INVALID"},
		{"/a/../../secret.txt", http.StatusBadRequest, "CANVAS_PATH_INVALID"},
		{"/%2e%2e/secret.txt", http.StatusBadRequest, "CANVAS_PATH_INVALID"},
		{"/./notes.txt", http.StatusBadRequest, "CANVAS_PATH_INVALID"},
		{"/..%5csecret.txt", http.StatusBadRequest, "CANVAS_PATH_INVALID"},
		{"/abs.txt", http.StatusForbidden, "CANVAS_PATH_OUTSIDE"},
		{"/rel.txt", http.StatusForbidden, "CANVAS_PATH_OUTSIDE"},
		{"/up/secret.txt", http.StatusForbidden, "CANVAS_PATH_OUTSIDE"},
		{"/up/", http.StatusForbidden, "CANVAS_PATH_OUTSIDE"},
		{"/priv/key.txt", http.StatusForbidden, "CANVAS_PATH_OUTSIDE"},
		{"/host", http.StatusForbidden, "CANVAS_PATH_OUTSIDE"},
		{"/dangling", http.StatusNotFound, "CANVAS_NOT_FOUND"},
		{"/missing.html", http.StatusNotFound, "CANVAS_NOT_FOUND"},
		{"/notes.txt/more", http.StatusNotFound, "CANVAS_NOT_FOUND"},
		{"/big.txt", http.StatusRequestEntityTooLarge, "CANVAS_FILE_TOO_LARGE"},
		{"/big.md", http.StatusRequestEntityTooLarge, "CANVAS_FILE_TOO_LARGE"},
	} {
		t.Run(tt.path, func(t *testing.T) { h.on(t).refuse(tt.path, tt.status, tt.code) })
	}

	resp, body = h.do(http.MethodPost, "/notes.txt")
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, body)
	require.Contains(t, body, "METHOD_NOT_ALLOWED")
	require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))

	// A canvas folder that is itself a link would publish its target.
	require.NoError(t, os.Rename(canvasDir, filepath.Join(h.root, "real")))
	require.NoError(t, os.Symlink("real", canvasDir))
	h.refuse("/notes.txt", http.StatusForbidden, "CANVAS_PATH_OUTSIDE")
}

// TestRuntimeDown: without a runtime to read through, the canvas answers
// 502 with its code, stays healthy itself, and says why in its status.
func TestRuntimeDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	h := newHarness(t, dead)

	h.refuse("/", http.StatusBadGateway, "CANVAS_RUNTIME_UNAVAILABLE")
	h.refuse("/index.md", http.StatusBadGateway, "CANVAS_RUNTIME_UNAVAILABLE")
	resp, body := h.get("/healthz")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	st := h.status()
	require.False(t, st.Runtime.OK)
	require.NotEmpty(t, st.Runtime.Error)
	require.False(t, st.Watch.OK)
}
