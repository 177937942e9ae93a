package runtimeapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/files"
)

func (s *Server) stat(w http.ResponseWriter, r *http.Request) {
	info, err := s.files.Stat(r.URL.Query().Get("path"))
	if err != nil {
		s.fail(w, err, "path")
		return
	}
	apijson.Write(w, http.StatusOK, info)
}

// listResponse is the answer of GET /v1/files/list.
type listResponse struct {
	Entries   []files.Info `json:"entries"`
	Truncated bool         `json:"truncated"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	depth := 1
	if v := q.Get("depth"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 1 {
			s.fail(w, invalid(errcode.RequestInvalid, "depth", "depth must be a positive number"), "")
			return
		}
		depth = d
	}
	entries, truncated, err := s.files.List(q.Get("path"), depth)
	if err != nil {
		s.fail(w, err, "path")
		return
	}
	if entries == nil {
		entries = []files.Info{}
	}
	apijson.Write(w, http.StatusOK, listResponse{Entries: entries, Truncated: truncated})
}

// read streams a file's bytes.
func (s *Server) read(w http.ResponseWriter, r *http.Request) {
	f, info, err := s.files.Open(r.URL.Query().Get("path"))
	if err != nil {
		s.fail(w, err, "path")
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	// The file may grow meanwhile; never send more than was announced.
	_, _ = io.Copy(w, io.LimitReader(f, info.Size))
}

// write replaces a file with the request body, streamed to disk; ?parents=true
// creates missing directories.
func (s *Server) write(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	info, err := s.files.Write(q.Get("path"), r.Body, q.Get("parents") == "true")
	if err != nil {
		s.fail(w, err, "path")
		return
	}
	apijson.Write(w, http.StatusOK, info)
}

// mkdirRequest is the body of POST /v1/files/mkdir.
type mkdirRequest struct {
	Path    string `json:"path"`
	Parents bool   `json:"parents"`
}

func (s *Server) mkdir(w http.ResponseWriter, r *http.Request) {
	var req mkdirRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, err, "")
		return
	}
	info, err := s.files.Mkdir(req.Path, req.Parents)
	if err != nil {
		s.fail(w, err, "path")
		return
	}
	apijson.Write(w, http.StatusCreated, info)
}

// moveRequest is the body of POST /v1/files/move.
type moveRequest struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Overwrite bool   `json:"overwrite"`
}

func (s *Server) move(w http.ResponseWriter, r *http.Request) {
	var req moveRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, err, "")
		return
	}
	if _, err := s.files.Rel(req.From); err != nil {
		s.fail(w, err, "from")
		return
	}
	info, err := s.files.Move(req.From, req.To, req.Overwrite)
	if err != nil {
		field := "to"
		if errors.Is(err, files.ErrNotFound) {
			field = "from"
		}
		s.fail(w, err, field)
		return
	}
	apijson.Write(w, http.StatusOK, info)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := s.files.Remove(q.Get("path"), q.Get("recursive") == "true"); err != nil {
		s.fail(w, err, "path")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
