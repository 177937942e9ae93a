package auth

import (
	"encoding/json"
	"strconv"

	"aileron.dev/pkg/errcode"
)

// Error is an authentication failure with a stable code.
type Error struct {
	Code    errcode.Code
	Message string
	// Unavailable marks failures of the identity provider rather than the token.
	Unavailable bool
}

func (e *Error) Error() string { return e.Message }

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strconv.Quote(s)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
