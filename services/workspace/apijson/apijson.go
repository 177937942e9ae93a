// Package apijson writes the JSON answers of the workspace's daemons (the
// runtime daemon, its terminals, the browser daemon): one error body with a
// stable code, so a client reads every daemon's errors the same way.
package apijson

import (
	"encoding/json"
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
