// Package reply writes the JSON answers the workspace daemons (runtime,
// terminal, canvas) share: one error body shape, so a client reads a
// refusal from any of them the same way.
package reply

import (
	"encoding/json"
	"net/http"

	"aileron.dev/pkg/errcode"
)

// ErrorBody is the JSON of every error: a stable code, a message for
// people, and the request field at fault when there is one.
type ErrorBody struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
	Field   string       `json:"field,omitempty"`
}

// Error writes an error answer with status.
func Error(w http.ResponseWriter, status int, code errcode.Code, msg, field string) {
	JSON(w, status, ErrorBody{Code: code, Message: msg, Field: field})
}

// JSON writes v as the answer with status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
