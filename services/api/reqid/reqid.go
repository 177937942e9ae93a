// Package reqid holds the one rule for request ids, shared by the REST gateway
// (X-Request-Id) and the gRPC interceptors (x-request-id metadata): a caller's
// id is kept only when it is short printable ASCII, else a generated one
// replaces it, so logs and audit records never hold a caller-chosen blob.
package reqid

import (
	"crypto/rand"
	"encoding/hex"
)

// MaxLen is the longest caller-chosen request id kept.
const MaxLen = 128

// Valid reports whether a caller's id is kept: 1 to MaxLen printable ASCII
// characters.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// New returns a fresh random id (16 hex characters).
func New() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Sanitize returns id when it is Valid, else a New one.
func Sanitize(id string) string {
	if Valid(id) {
		return id
	}
	return New()
}
