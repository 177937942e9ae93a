package orchestrator

import (
	"errors"
	"strconv"

	"aileron.dev/pkg/errcode"
)

// Sentinel error kinds; the gRPC handler maps each to a status code.
var (
	// ErrNotFound: the workspace does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument: the request is malformed.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConflict: a concurrent change or a stale revision.
	ErrConflict = errors.New("conflict")
	// ErrAlreadyExists: the name is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrUnavailable: a dependency (NATS) failed; retrying may help.
	ErrUnavailable = errors.New("unavailable")
	// ErrQuota: the caller reached a limit.
	ErrQuota = errors.New("quota exceeded")
	// ErrPermission: the caller may not do this (but may see the workspace).
	ErrPermission = errors.New("permission denied")
)

// Error is a domain error with a stable code and the field it is about.
type Error struct {
	Kind    error        // one of the sentinels above or ErrInvalidTransition
	Code    errcode.Code // stable machine-readable code, e.g. WORKSPACE_NOT_FOUND
	Field   string       // request field the error is about, if any
	Message string       // human-readable, names the field
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind so errors.Is works against the sentinels.
func (e *Error) Unwrap() error { return e.Kind }

func invalid(code errcode.Code, field, msg string) *Error {
	return &Error{Kind: ErrInvalidArgument, Code: code, Field: field, Message: msg}
}

// NotFound is the answer for a workspace that does not exist or that the
// caller may not see (so ids of other users cannot be probed).
func NotFound(id string) *Error {
	return &Error{Kind: ErrNotFound, Code: errcode.WorkspaceNotFound, Field: "id", Message: "workspace id " + strconv.Quote(id) + " not found"}
}

func storeUnavailable(err error) *Error {
	return &Error{Kind: ErrUnavailable, Code: errcode.StoreUnavailable, Message: err.Error()}
}
