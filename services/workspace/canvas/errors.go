package canvas

import (
	"errors"
	"log/slog"
	"net/http"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
)

// Errors, each wrapped with what it is about.
var (
	ErrPathInvalid = errors.New("invalid canvas path")
	ErrOutside     = errors.New("path leads outside the canvas folder")
	ErrNotFound    = errors.New("not found in the canvas folder")
	ErrTooLarge    = errors.New("file is over the canvas size cap")
	ErrRuntime     = errors.New("the runtime daemon did not answer")
)

// mapping is the error → status and code table; the first match wins.
var mapping = []struct {
	err    error
	status int
	code   errcode.Code
}{
	{ErrPathInvalid, http.StatusBadRequest, errcode.CanvasPathInvalid},
	{ErrOutside, http.StatusForbidden, errcode.CanvasPathOutside},
	{ErrNotFound, http.StatusNotFound, errcode.CanvasNotFound},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, errcode.CanvasFileTooLarge},
	{ErrRuntime, http.StatusBadGateway, errcode.CanvasRuntimeUnavailable},
}

// fail answers err as the runtime daemon answers its errors.
func fail(w http.ResponseWriter, err error, log *slog.Logger) {
	for _, m := range mapping {
		if errors.Is(err, m.err) {
			apijson.WriteError(w, m.status, m.code, err.Error(), "path")
			return
		}
	}
	log.Error("canvas request failed", slog.Any("error", err))
	apijson.WriteError(w, http.StatusInternalServerError, errcode.Internal, "internal error", "")
}
