// Package canvas is the canvas service of a workspace: it serves what the
// agent writes under the workspace's canvas folder — HTML with its assets,
// Markdown rendered to HTML, images, PDF, text — on the canvas's own
// origin, and reloads open pages when a file changes. It never mounts the
// workspace volume: every read goes through the runtime daemon's files API
// over HTTP, so the runtime's path confinement applies and the canvas can
// run on another node than the volume's only writer. docs/canvas.md is its
// reference.
package canvas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/files"
)

// Options configure a Server.
type Options struct {
	// RuntimeURL is the base URL of the workspace's runtime daemon.
	RuntimeURL string
	// Dir is the canvas folder, relative to the workspace root.
	Dir string
	// MaxFileBytes caps a file served (and a Markdown file rendered).
	MaxFileBytes int64
	// MaxClients bounds the live-reload streams open at once.
	MaxClients int
	// Log receives the daemon's warnings.
	Log *slog.Logger
}

// Server serves the canvas folder of one workspace.
type Server struct {
	dir     string
	max     int64
	rt      *runtimeClient
	hub     *hub
	clients chan struct{}
	log     *slog.Logger
}

// New returns the canvas over opts; Run must run for live reload.
func New(opts Options) (*Server, error) {
	dir, err := CleanDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.MaxFileBytes < 1 || opts.MaxClients < 1 {
		return nil, errors.New("canvas limits must be at least 1")
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		dir: dir, max: opts.MaxFileBytes, rt: newRuntimeClient(opts.RuntimeURL),
		clients: make(chan struct{}, opts.MaxClients), log: log,
	}
	s.hub = newHub(s.rt, dir, log)
	return s, nil
}

// CleanDir checks a canvas folder: a path inside the workspace, relative
// to its root ("." for the whole workspace); it returns it cleaned.
func CleanDir(dir string) (string, error) {
	d := path.Clean(dir)
	if dir == "" || path.IsAbs(d) || d == ".." || strings.HasPrefix(d, "../") || strings.ContainsAny(dir, "\\\x00") {
		return "", fmt.Errorf("canvas folder %q: want a folder inside the workspace, relative to its root", dir)
	}
	return d, nil
}

// Run follows the runtime's files watch of the canvas folder for live
// reload until ctx ends, reconnecting when it drops; then the open
// live-reload streams end.
func (s *Server) Run(ctx context.Context) {
	defer s.rt.http.CloseIdleConnections()
	s.hub.run(ctx)
}

// Handler routes the canvas: its own few paths, and every other path to
// the file of the canvas folder it names. Its own paths hide files of the
// same names.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			apijson.WriteError(w, http.StatusMethodNotAllowed, errcode.MethodNotAllowed, r.Method+" is not allowed: the canvas is read-only", "")
			return
		}
		switch p := r.URL.Path; {
		case p == "/healthz":
			_, _ = io.WriteString(w, "ok\n")
		case p == "/v1/status":
			s.status(w, r)
		case p == eventsPath:
			s.events(w, r)
		case strings.HasPrefix(p, assetsPrefix):
			s.serveAsset(w, r)
		default:
			s.serve(w, r)
		}
	})
}

// statusResponse is the answer of GET /v1/status.
type statusResponse struct {
	Dir     string       `json:"dir"`
	Runtime upstreamInfo `json:"runtime"`
	Watch   upstreamInfo `json:"watch"`
	// Clients are the live-reload streams open.
	Clients int `json:"clients"`
	// Generation counts the changes pages were told of.
	Generation uint64 `json:"generation"`
}

// upstreamInfo says whether a link to the runtime works, and why not.
type upstreamInfo struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := statusResponse{Dir: s.dir, Clients: len(s.clients), Runtime: upstreamInfo{OK: true}}
	if err := s.rt.healthy(r.Context()); err != nil {
		st.Runtime = upstreamInfo{Error: err.Error()}
	}
	st.Generation, st.Watch.OK, st.Watch.Error = s.hub.state()
	apijson.Write(w, http.StatusOK, st)
}

// serve answers the file or directory the request path names.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rel, slash, err := cleanPath(r.URL.Path)
	if err != nil {
		fail(w, err, s.log)
		return
	}
	gen := s.hub.generation() // before the read: a change after it reloads the page
	info, err := s.resolve(r.Context(), rel)
	if rel == "" && errors.Is(err, ErrNotFound) {
		// No canvas folder yet: an empty page that reloads once the agent
		// writes one.
		s.serveListing(w, r, rel, listing{}, gen)
		return
	}
	if err != nil {
		fail(w, err, s.log)
		return
	}
	if info.Type == "dir" {
		if !slash && rel != "" {
			// Relative links of the index must resolve inside the directory.
			w.Header().Set("Location", "/"+escapePath(rel)+"/")
			w.WriteHeader(http.StatusFound)
			return
		}
		s.serveDir(w, r, rel, info, gen)
		return
	}
	s.serveFile(w, r, info, gen)
}

// serveDir answers a directory's index.html, else its index.md, else a
// listing.
func (s *Server) serveDir(w http.ResponseWriter, r *http.Request, rel string, dir files.Info, gen uint64) {
	l, err := s.rt.list(r.Context(), dir.Path)
	if err != nil {
		fail(w, err, s.log)
		return
	}
	for _, index := range []string{"index.html", "index.md"} {
		for _, e := range l.Entries {
			if e.Name == index && (e.Type == "file" || e.Type == "symlink") {
				info, err := s.resolve(r.Context(), path.Join(rel, index))
				if err != nil {
					fail(w, err, s.log)
					return
				}
				s.serveFile(w, r, info, gen)
				return
			}
		}
	}
	s.serveListing(w, r, rel, l, gen)
}

// serveFile answers a file: Markdown rendered, HTML with the live-reload
// script, anything else streamed through as it is.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, info files.Info, gen uint64) {
	if info.Type != "file" {
		fail(w, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, info.Path), s.log)
		return
	}
	if info.Size > s.max {
		fail(w, fmt.Errorf("%w: %s has %d bytes, the cap is %d", ErrTooLarge, info.Path, info.Size, s.max), s.log)
		return
	}
	kind := kindOf(info.Name)
	if kind.markdown {
		s.serveMarkdown(w, r, info, gen)
		return
	}
	w.Header().Set("Content-Type", kind.contentType)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	resp, err := s.rt.open(r.Context(), info.Path)
	if err != nil {
		fail(w, err, s.log)
		return
	}
	defer resp.Body.Close()
	size := resp.ContentLength // the file may have changed since the stat
	if size > s.max {
		fail(w, fmt.Errorf("%w: %s has %d bytes, the cap is %d", ErrTooLarge, info.Path, size, s.max), s.log)
		return
	}
	var tail string
	if kind.html {
		// After the document, not before: anything ahead of the doctype
		// would put the page in quirks mode. Browsers move it into the body.
		tail = reloadTag(gen)
	}
	if size >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(size+int64(len(tail)), 10))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return // the client or the runtime went away; the status is sent
	}
	_, _ = io.WriteString(w, tail)
}

// escapePath escapes each segment of a slash-separated path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
