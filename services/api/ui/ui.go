// Package ui is the web console of Aileron workspaces: static HTML, CSS and
// JavaScript modules embedded in the binary (no build step) that talk to the
// REST API on the same origin. The api server mounts Handler on every path
// outside /api/.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// securityHeaders are sent with every response. The console loads nothing
// from other origins and uses no inline script or style, so the policy can
// be strict.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

// asset is one embedded file with its precomputed entity tag.
type asset struct {
	data        []byte
	contentType string
	etag        string
}

type handler struct {
	assets map[string]asset // by URL path, e.g. /assets/app.css
	index  asset
}

// Handler serves the console: files under /assets/ as they are, and
// index.html for every other GET so that in-app paths such as
// /workspaces/{id} can be reloaded and shared.
func Handler() http.Handler {
	h := &handler{assets: map[string]asset{}}
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		a := asset{data: data, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if p == "index.html" {
			h.index = a
		} else {
			h.assets["/"+p] = a
		}
		return nil
	})
	if err != nil {
		panic(err) // embedded files are always readable
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	a, ok := h.assets[p]
	switch {
	case ok:
	case strings.HasPrefix(p, "/assets/") || path.Ext(p) != "":
		// A missing file is a 404, not the app: a broken asset link must be visible.
		http.NotFound(w, r)
		return
	default:
		a = h.index
	}
	// Revalidate every time (cheap with the ETag) so a new binary's console
	// is picked up at once.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	w.Header().Set("Content-Type", a.contentType)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}
