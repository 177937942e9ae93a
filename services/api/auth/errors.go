package auth

import (
	"encoding/json"
	"strconv"
)

// Stable codes of authentication and rate-limit errors.
const (
	CodeTokenMissing      = "AUTH_TOKEN_MISSING"
	CodeTokenInvalid      = "AUTH_TOKEN_INVALID"
	CodeTokenExpired      = "AUTH_TOKEN_EXPIRED"
	CodeAudienceInvalid   = "AUTH_AUDIENCE_INVALID"
	CodeIssuerInvalid     = "AUTH_ISSUER_INVALID"
	CodeIssuerUnavailable = "AUTH_ISSUER_UNAVAILABLE"
	CodeRateLimited       = "RATE_LIMITED"
)

// Error is an authentication failure with a stable code.
type Error struct {
	Code    string
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
