// Package apijson writes the JSON answers of the workspace's daemons (the
// runtime daemon, its terminals, the browser and canvas daemons): one error body with a
// stable code, so a client reads every daemon's errors the same way.
package apijson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"aileron.dev/pkg/errcode"
)

// ErrorBody is the JSON of every error.
type ErrorBody struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
	Field   string       `json:"field,omitempty"`
}

// Write answers status with v as JSON.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers status with an error body; field names the request
// field at fault, or is empty.
func WriteError(w http.ResponseWriter, status int, code errcode.Code, msg, field string) {
	Write(w, status, ErrorBody{Code: code, Message: msg, Field: field})
}

// WriteInternal answers 500 INTERNAL with no detail: the cause is for the
// daemon's log, not for the client.
func WriteInternal(w http.ResponseWriter) {
	WriteError(w, http.StatusInternalServerError, errcode.Internal, "internal error", "")
}

// ErrorCode is how a daemon answers one of its domain errors.
type ErrorCode struct {
	Err    error
	Status int
	Code   errcode.Code
	// Field names the request field the error is about; empty: the one the
	// caller gives.
	Field string
}

// Errors is a daemon's domain error → answer table; the first match wins.
type Errors []ErrorCode

// Write answers err as the first entry it matches (errors.Is) says, with
// err's message and the entry's field, else field. It reports false when no
// entry matches: the caller logs err and answers WriteInternal.
func (m Errors) Write(w http.ResponseWriter, err error, field string) bool {
	for _, e := range m {
		if errors.Is(err, e.Err) {
			if e.Field != "" {
				field = e.Field
			}
			WriteError(w, e.Status, e.Code, err.Error(), field)
			return true
		}
	}
	return false
}

// DecodeError is a request body Decode refused, as the client sees it.
type DecodeError struct {
	Status  int
	Code    errcode.Code
	Message string
}

func (e *DecodeError) Error() string { return string(e.Code) + ": " + e.Message }

// Decode reads one JSON object of at most maxBytes from r's body into v;
// unknown fields and trailing data are refused (400 REQUEST_INVALID), an
// over-long body is 413 REQUEST_TOO_LARGE.
func Decode(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) *DecodeError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return &DecodeError{Status: http.StatusRequestEntityTooLarge, Code: errcode.RequestTooLarge,
			Message: fmt.Sprintf("request body is over %d bytes", maxBytes)}
	default:
		return &DecodeError{Status: http.StatusBadRequest, Code: errcode.RequestInvalid, Message: "malformed JSON body: " + err.Error()}
	}
}
