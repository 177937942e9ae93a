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

// answers is the domain error → status and code table.
var answers = apijson.Errors{
	{Err: files.ErrOutsideRoot, Status: http.StatusForbidden, Code: errcode.PathOutsideRoot},
	{Err: files.ErrInvalidPath, Status: http.StatusBadRequest, Code: errcode.PathInvalid},
	{Err: files.ErrNotFound, Status: http.StatusNotFound, Code: errcode.FileNotFound},
	{Err: files.ErrExists, Status: http.StatusConflict, Code: errcode.FileExists},
	{Err: files.ErrNotDir, Status: http.StatusConflict, Code: errcode.FileNotDirectory},
	{Err: files.ErrIsDir, Status: http.StatusConflict, Code: errcode.FileIsDirectory},
	{Err: files.ErrNotEmpty, Status: http.StatusConflict, Code: errcode.DirectoryNotEmpty},
	{Err: files.ErrTooLarge, Status: http.StatusRequestEntityTooLarge, Code: errcode.FileTooLarge},
	{Err: exec.ErrInvalid, Status: http.StatusBadRequest, Code: errcode.CommandInvalid},
	{Err: exec.ErrStart, Status: http.StatusBadRequest, Code: errcode.CommandStartFailed},
	{Err: session.ErrNotFound, Status: http.StatusNotFound, Code: errcode.SessionNotFound},
	{Err: session.ErrTagInvalid, Status: http.StatusBadRequest, Code: errcode.SessionTagInvalid},
	{Err: session.ErrExists, Status: http.StatusConflict, Code: errcode.SessionExists},
	{Err: session.ErrLimit, Status: http.StatusTooManyRequests, Code: errcode.ProcessLimitReached},
	{Err: session.ErrInputClosed, Status: http.StatusConflict, Code: errcode.SessionInputClosed},
	{Err: session.ErrInputBlocked, Status: http.StatusConflict, Code: errcode.SessionInputBlocked},
	{Err: agent.ErrUnknown, Status: http.StatusNotFound, Code: errcode.AgentNotFound},
	{Err: agent.ErrPromptEmpty, Status: http.StatusBadRequest, Code: errcode.RequestInvalid},
	{Err: agent.ErrNotInstalled, Status: http.StatusConflict, Code: errcode.AgentNotInstalled},
}

// fail writes err, a domain error about field, as the client sees it.
func (s *Server) fail(w http.ResponseWriter, err error, field string) {
	var ae apiError
	if errors.As(err, &ae) {
		writeError(w, ae)
		return
	}
	if answers.Write(w, err, field) {
		return
	}
	s.log.Error("request failed", "error", err)
	apijson.WriteInternal(w)
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
