package canvas

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"aileron.dev/services/workspace/files"
)

const (
	// assetsPrefix is where the daemon's own assets are served.
	assetsPrefix = "/_canvas/"
	// eventsPath is the live-reload stream.
	eventsPath = assetsPrefix + "events"
	// pageCSP is the policy of the pages the canvas renders itself
	// (Markdown, listings): only its own script and style, images from the
	// canvas. Raw HTML in Markdown is not rendered at all; this is the
	// second wall.
	pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'"
)

//go:embed assets
var assets embed.FS

// markdown renders GitHub-flavoured Markdown; raw HTML in it is left out
// (goldmark's default), so a Markdown file cannot carry a script.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// page is the frame of a rendered Markdown file or a listing.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="stylesheet" href="/_canvas/page.css">
</head><body><main>
{{if .Listing}}<h1>{{.Title}}</h1>
<ul class="listing">{{if .Parent}}<li><a href="../">../</a></li>{{end}}
{{range .Listing}}<li><a href="{{.Href}}">{{.Name}}</a>{{if .Note}} <span class="note">{{.Note}}</span>{{end}}</li>
{{end}}</ul>{{if .Truncated}}<p class="note">The listing was cut off.</p>{{end}}
{{else if not .Body}}<p class="note">This folder is empty. Files written under it appear here.</p>
{{else}}{{.Body}}{{end}}
</main>
<script src="{{.Script}}"></script>
</body></html>
`))

// pageData fills the page template.
type pageData struct {
	Title     string
	Body      template.HTML
	Listing   []listEntry
	Parent    bool
	Truncated bool
	Script    string
}

// listEntry is one line of a listing.
type listEntry struct{ Name, Href, Note string }

// reloadScript is the URL of the live-reload script for a page read at
// generation gen.
func reloadScript(gen uint64) string {
	return assetsPrefix + "reload.js?gen=" + strconv.FormatUint(gen, 10)
}

// reloadTag is the script element appended to an HTML file.
func reloadTag(gen uint64) string {
	return "\n<script src=\"" + reloadScript(gen) + "\"></script>\n"
}

// serveMarkdown renders the Markdown file info into a page.
func (s *Server) serveMarkdown(w http.ResponseWriter, r *http.Request, info files.Info, gen uint64) {
	resp, err := s.rt.open(r.Context(), info.Path)
	if err != nil {
		fail(w, err, s.log)
		return
	}
	defer resp.Body.Close()
	src, err := io.ReadAll(io.LimitReader(resp.Body, s.max+1))
	switch {
	case err != nil:
		fail(w, fmt.Errorf("%w: reading %s: %v", ErrRuntime, info.Path, err), s.log)
		return
	case int64(len(src)) > s.max:
		fail(w, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, info.Path, s.max), s.log)
		return
	}
	var body bytes.Buffer
	if err := markdown.Convert(src, &body); err != nil {
		fail(w, fmt.Errorf("render %s: %w", info.Path, err), s.log)
		return
	}
	// goldmark's output, raw HTML left out: safe to put in the page as it is.
	s.writePage(w, r, pageData{Title: info.Name, Body: template.HTML(body.String()), Script: reloadScript(gen)})
}

// serveListing answers a directory without an index.
func (s *Server) serveListing(w http.ResponseWriter, r *http.Request, rel string, l listing, gen uint64) {
	d := pageData{Title: "/" + rel, Parent: rel != "", Truncated: l.Truncated, Script: reloadScript(gen)}
	if rel != "" {
		d.Title += "/"
	}
	for _, e := range l.Entries {
		le := listEntry{Name: e.Name, Href: url.PathEscape(e.Name)}
		switch e.Type {
		case "dir":
			le.Name += "/"
			le.Href += "/"
		case "symlink":
			le.Note = "→ " + e.Target
		case "file":
			le.Note = byteSize(e.Size)
		}
		d.Listing = append(d.Listing, le)
	}
	if len(d.Listing) == 0 {
		d.Listing = nil
	}
	s.writePage(w, r, d)
}

func (s *Server) writePage(w http.ResponseWriter, r *http.Request, d pageData) {
	var b bytes.Buffer
	if err := page.Execute(&b, d); err != nil {
		fail(w, fmt.Errorf("page %s: %w", path.Base(d.Title), err), s.log)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// byteSize writes n in the largest binary unit that keeps it above 1.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// serveAsset answers the daemon's own files (the live-reload script, the
// page style) from the binary.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	b, err := assets.ReadFile("assets/" + name)
	if err != nil || r.URL.Path != assetsPrefix+name {
		fail(w, fmt.Errorf("%w: %s is none of the canvas's own assets", ErrNotFound, r.URL.Path), s.log)
		return
	}
	w.Header().Set("Content-Type", kindOf(name).contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
