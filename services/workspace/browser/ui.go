package browser

import (
	"embed"
	"io/fs"
	"net/http"
)

// AssetsPath is where the preview page's script and style are served.
const AssetsPath = "/browser-ui/"

// CSP allows the preview page nothing but its own origin: no inline
// script or style, no third-party URL, no framing. Frames are drawn from
// blobs the script makes.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// uiHandler serves the preview page at / and its assets under AssetsPath.
func uiHandler() http.Handler {
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + r.URL.Path[len(AssetsPath):]
		files.ServeHTTP(w, r2)
	})
}
