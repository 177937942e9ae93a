// Package terminalui serves the in-browser terminal: one page with tabs of
// xterm.js terminals, each attached to the terminal API's WebSocket
// (docs/terminal.md). xterm.js is not in the repository: the page is built
// from Debian's node-xterm and libjs-xterm where the image installed them.
package terminalui

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"aileron.dev/pkg/errcode"
)

// Defaults are where Debian installs the two packages.
const (
	DefaultXtermDir        = "/usr/share/javascript/xterm" // libjs-xterm: xterm.css, addons
	DefaultXtermModulesDir = "/usr/share/nodejs/xterm"     // node-xterm: lib/**/*.js
)

// AssetsPath is where the page's scripts and styles are served.
const AssetsPath = "/terminal-ui/"

// CSP allows the page nothing but its own origin: no inline script or
// style, no third-party URL, no framing. 'self' covers the same origin's
// WebSocket (ws: or wss:) in current browsers.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// Options says where xterm.js is installed.
type Options struct {
	// XtermDir holds libjs-xterm: xterm.css and addons/fit/fit.js.
	XtermDir string
	// XtermModulesDir holds node-xterm: lib/ with the CommonJS modules.
	XtermModulesDir string
}

// UI is the terminal page and its assets.
type UI struct {
	xtermJS, xtermCSS []byte
	missing           string // why xterm.js cannot be served; "" when it can
	started           time.Time
}

// New reads and wraps xterm.js once; when it is not installed the UI still
// serves, and says so on the page.
func New(o Options) *UI {
	u := &UI{started: time.Now()}
	js, err := bundle(o.XtermModulesDir, filepath.Join(o.XtermDir, "addons", "fit", "fit.js"))
	if err == nil {
		u.xtermCSS, err = os.ReadFile(filepath.Join(o.XtermDir, "xterm.css"))
	}
	if err != nil {
		u.missing = err.Error()
		return u
	}
	u.xtermJS = js
	return u
}

// Missing is why xterm.js cannot be served, or "" when it can.
func (u *UI) Missing() string { return u.missing }

// Handler serves GET / (the page) and the assets under AssetsPath.
func (u *UI) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", u.page)
	mux.HandleFunc("GET "+AssetsPath+"app.js", u.file("static/app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET "+AssetsPath+"app.css", u.file("static/app.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET "+AssetsPath+"xterm.js", u.xterm(func() []byte { return u.xtermJS }, "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET "+AssetsPath+"xterm.css", u.xterm(func() []byte { return u.xtermCSS }, "text/css; charset=utf-8"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		mux.ServeHTTP(w, r)
	})
}

var pages = template.Must(template.ParseFS(static, "static/*.html"))

func (u *UI) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if u.missing != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = pages.ExecuteTemplate(w, "missing.html", map[string]string{"Code": string(errcode.XtermNotInstalled), "Reason": u.missing})
		return
	}
	_ = pages.ExecuteTemplate(w, "index.html", nil)
}

func (u *UI) file(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := static.ReadFile(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", u.started, bytes.NewReader(b))
	}
}

func (u *UI) xterm(body func() []byte, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u.missing != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"code": string(errcode.XtermNotInstalled), "message": "xterm.js is not installed: " + u.missing})
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", u.started, bytes.NewReader(body()))
	}
}
