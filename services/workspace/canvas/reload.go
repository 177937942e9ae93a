package canvas

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
)

const (
	// quiet is how long changes must pause before pages are told: a write
	// is several events (a temporary file, its content, the rename), and
	// a page reloaded on the first would read the old file.
	quiet = 150 * time.Millisecond
	// maxDelay bounds how long a stream of changes holds the news back.
	maxDelay = time.Second
	// minBackoff and maxBackoff bound the wait before the upstream watch
	// is opened again.
	minBackoff = 250 * time.Millisecond
	maxBackoff = 10 * time.Second
	// heartbeat keeps an idle event stream from being cut by proxies.
	heartbeat = 25 * time.Second
	// sseWriteTimeout drops a page that takes no event for this long.
	sseWriteTimeout = 10 * time.Second
	// tempPrefix starts the name of the runtime's temporary file of a
	// write, which is not worth a reload (its rename is).
	tempPrefix = ".aileron-write-"
)

// hub follows one upstream watch of the canvas folder for every page: a
// generation counter that each batch of changes bumps, and a channel
// closed at each bump that the event streams wait on.
type hub struct {
	rt  *runtimeClient
	dir string
	log *slog.Logger

	mu       sync.Mutex
	gen      uint64
	lastPath string
	pending  string // the last changed path not yet told
	bumped   chan struct{}
	watching bool
	watchErr string
	done     chan struct{}
}

func newHub(rt *runtimeClient, dir string, log *slog.Logger) *hub {
	return &hub{rt: rt, dir: dir, log: log, bumped: make(chan struct{}), done: make(chan struct{}), watchErr: "not started"}
}

// generation is the current generation.
func (h *hub) generation() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// state is the generation and whether the upstream watch is set.
func (h *hub) state() (gen uint64, watching bool, err string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen, h.watching, h.watchErr
}

// next returns the generation, the last changed path, and a channel
// closed at the next bump.
func (h *hub) next() (uint64, string, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen, h.lastPath, h.bumped
}

// changed notes a change of p for the next bump.
func (h *hub) changed(p string) {
	if p == "" {
		return // an overflow: something changed, the path already noted will do
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = p
}

// bump tells the pages of the changes noted since the last bump; p is the
// one to name when none was noted.
func (h *hub) bump(p string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending != "" {
		p, h.pending = h.pending, ""
	}
	h.gen++
	h.lastPath = p
	close(h.bumped)
	h.bumped = make(chan struct{})
}

func (h *hub) setWatching(ok bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watching, h.watchErr = ok, ""
	if err != nil {
		h.watchErr = err.Error()
	}
}

// run keeps the upstream watch open until ctx ends, then ends the streams.
func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	changes := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); h.debounce(ctx, changes) }()
	backoff, attempts := minBackoff, 0
	for ctx.Err() == nil {
		attempts++
		err := h.rt.watch(ctx, h.dir, func(ev watchEvent) {
			switch {
			case ev.Type == "ready":
				h.setWatching(true, nil)
				backoff = minBackoff
				if attempts > 1 { // what changed while the watch was down is unknown
					h.bump("")
				}
			case ev.Type == "chmod" || ev.Type == "partial" || strings.HasPrefix(path.Base(ev.Path), tempPrefix):
			default: // a change, or overflow (something changed)
				h.changed(h.relative(ev.Path))
				select {
				case changes <- struct{}{}:
				default: // the debouncer has a signal pending already
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		h.setWatching(false, err)
		h.log.Warn("canvas watch of the runtime dropped; retrying", slog.Any("error", err), slog.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// relative is a workspace path relative to the canvas folder.
func (h *hub) relative(p string) string {
	if h.dir == "." {
		return p
	}
	return strings.TrimPrefix(p, h.dir+"/")
}

// debounce bumps the generation once changes pause for quiet, or maxDelay
// after the first of a batch.
func (h *hub) debounce(ctx context.Context, changes <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var fire <-chan time.Time
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-changes:
			now := time.Now()
			if fire == nil {
				first = now
			}
			timer.Reset(max(0, min(quiet, maxDelay-now.Sub(first))))
			fire = timer.C
		case <-fire:
			fire = nil
			h.bump("")
		}
	}
}

// changeEvent is the data of a change event.
type changeEvent struct {
	Generation uint64 `json:"generation"`
	// Path is the last file of the batch, relative to the canvas folder;
	// empty when unknown.
	Path string `json:"path"`
}

// events streams Server-Sent Events to a page: `change` when a file of
// the canvas changed since the generation ?gen= the page was read at
// (right away if it already has).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	select {
	case s.clients <- struct{}{}:
		defer func() { <-s.clients }()
	default:
		apijson.WriteError(w, http.StatusTooManyRequests, errcode.WatchLimitReached,
			fmt.Sprintf("at most %d live-reload streams may be open at once", cap(s.clients)), "")
		return
	}
	since, _, _ := s.hub.next()
	if v := r.URL.Query().Get("gen"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fail(w, fmt.Errorf("%w: gen %q is not a generation", ErrPathInvalid, v), s.log)
			return
		}
		since = n
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(msg string) error {
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := fmt.Fprint(w, msg); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send(": canvas live reload\nretry: 2000\n\n") != nil || r.Method == http.MethodHead {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		gen, p, bumped := s.hub.next()
		// Not >: a restarted daemon counts from 0 again, and a page read
		// before the restart may be stale.
		if gen != since {
			since = gen
			b, _ := json.Marshal(changeEvent{Generation: gen, Path: p})
			if send("event: change\ndata: "+string(b)+"\n\n") != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.hub.done:
			return
		case <-bumped:
		case <-tick.C:
			if send(": ping\n\n") != nil {
				return
			}
		}
	}
}
