package runtimeapi

import (
	"errors"
	"net/http"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/agent"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/exec"
	"aileron.dev/services/workspace/files"
	"aileron.dev/services/workspace/session"
)

// apiError is an error as the client sees it.
type apiError struct {
	status int
	code   errcode.Code
	msg    string
	field  string
}

func (e apiError) Error() string { return string(e.code) + ": " + e.msg }

func writeError(w http.ResponseWriter, e apiError) {
	apijson.WriteError(w, e.status, e.code, e.msg, e.field)
}

// mapping is the domain error → status and code table; the first match wins.
var mapping = []struct {
	err    error
	status int
	code   errcode.Code
}{
	{files.ErrOutsideRoot, http.StatusForbidden, errcode.PathOutsideRoot},
	{files.ErrInvalidPath, http.StatusBadRequest, errcode.PathInvalid},
	{files.ErrNotFound, http.StatusNotFound, errcode.FileNotFound},
	{files.ErrExists, http.StatusConflict, errcode.FileExists},
	{files.ErrNotDir, http.StatusConflict, errcode.FileNotDirectory},
	{files.ErrIsDir, http.StatusConflict, errcode.FileIsDirectory},
	{files.ErrNotEmpty, http.StatusConflict, errcode.DirectoryNotEmpty},
	{files.ErrTooLarge, http.StatusRequestEntityTooLarge, errcode.FileTooLarge},
	{exec.ErrInvalid, http.StatusBadRequest, errcode.CommandInvalid},
	{exec.ErrStart, http.StatusBadRequest, errcode.CommandStartFailed},
	{session.ErrNotFound, http.StatusNotFound, errcode.SessionNotFound},
	{session.ErrTagInvalid, http.StatusBadRequest, errcode.SessionTagInvalid},
	{session.ErrExists, http.StatusConflict, errcode.SessionExists},
	{session.ErrLimit, http.StatusTooManyRequests, errcode.ProcessLimitReached},
	{session.ErrInputClosed, http.StatusConflict, errcode.SessionInputClosed},
	{session.ErrInputBlocked, http.StatusConflict, errcode.SessionInputBlocked},
	{agent.ErrUnknown, http.StatusNotFound, errcode.AgentNotFound},
	{agent.ErrPromptEmpty, http.StatusBadRequest, errcode.RequestInvalid},
	{agent.ErrNotInstalled, http.StatusConflict, errcode.AgentNotInstalled},
}

// fail writes err, a domain error about field, as the client sees it.
func (s *Server) fail(w http.ResponseWriter, err error, field string) {
	var ae apiError
	if errors.As(err, &ae) {
		writeError(w, ae)
		return
	}
	for _, m := range mapping {
		if errors.Is(err, m.err) {
			writeError(w, apiError{status: m.status, code: m.code, msg: err.Error(), field: field})
			return
		}
	}
	s.log.Error("request failed", "error", err)
	writeError(w, apiError{status: http.StatusInternalServerError, code: errcode.Internal, msg: "internal error"})
}

// decode reads a JSON body of at most the body cap into v.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if e := apijson.Decode(w, r, s.limits.MaxBodyBytes, v); e != nil {
		return apiError{status: e.Status, code: e.Code, msg: e.Message}
	}
	return nil
}

func invalid(code errcode.Code, field, msg string) apiError {
	return apiError{status: http.StatusBadRequest, code: code, msg: msg, field: field}
}
