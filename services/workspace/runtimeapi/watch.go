package runtimeapi

import (
	"net/http"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/files"
)

const (
	// maxWatches bounds the watches open at once: each holds an inotify
	// instance, of which a user has 128 by default.
	maxWatches = 8
	// maxWatchDirs bounds the directories one watch follows.
	maxWatchDirs = 4096
)

// watchFiles streams the changes under ?path= (default the root) as
// newline-delimited JSON until the client goes away. A read-only look:
// not activity.
func (s *Server) watchFiles(w http.ResponseWriter, r *http.Request) {
	select {
	case s.watches <- struct{}{}:
		defer func() { <-s.watches }()
	default:
		writeError(w, apiError{status: http.StatusTooManyRequests, code: errcode.WatchLimitReached,
			msg: "at most 8 file watches may be open at once; close one first"})
		return
	}
	p := r.URL.Query().Get("path")
	if p == "" {
		p = "."
	}
	// The path is checked before the answer starts, so a refusal has its
	// status and code.
	if _, err := s.files.Abs(p); err != nil {
		s.fail(w, err, "path")
		return
	}
	out := newNDJSON(w, s.limits.StallTimeout)
	err := s.files.Watch(r.Context(), p, maxWatchDirs, func(c files.Change) error { return out.send(c) })
	if err != nil && r.Context().Err() == nil {
		_ = out.send(map[string]string{"type": "error", "message": err.Error()})
	}
}
