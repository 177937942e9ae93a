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

// answers is the error → status and code table.
var answers = apijson.Errors{
	{Err: ErrPathInvalid, Status: http.StatusBadRequest, Code: errcode.CanvasPathInvalid},
	{Err: ErrOutside, Status: http.StatusForbidden, Code: errcode.CanvasPathOutside},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: errcode.CanvasNotFound},
	{Err: ErrTooLarge, Status: http.StatusRequestEntityTooLarge, Code: errcode.CanvasFileTooLarge},
	{Err: ErrRuntime, Status: http.StatusBadGateway, Code: errcode.CanvasRuntimeUnavailable},
}

// fail answers err as the runtime daemon answers its errors.
func fail(w http.ResponseWriter, err error, log *slog.Logger) {
	if !answers.Write(w, err, "path") {
		log.Error("canvas request failed", slog.Any("error", err))
		apijson.WriteInternal(w)
	}
}
