package policy

import (
	"errors"
	"fmt"

	"aileron.dev/pkg/errcode"
)

// ErrInvalid is the sentinel wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid firewall setting")

// maxQuoted bounds how much of a bad entry an error message repeats.
const maxQuoted = 80

// Error describes one rejected setting. It wraps ErrInvalid.
type Error struct {
	// Code is errcode.FirewallDomainInvalid, FirewallDomainsTooMany or FirewallModeInvalid.
	Code errcode.Code
	// Field names the setting, with an index for list entries, e.g.
	// "workspace_firewall_allowed_domains[2]". Empty when the caller gave none.
	Field string
	// Entry is the rejected value as given.
	Entry string
	// Reason says in plain words why the entry was rejected.
	Reason string
}

// Error names the field and the bad entry, e.g.
// `workspace_firewall_allowed_domains[2] "http://x.com": URLs are not allowed, give the host name only`.
func (e *Error) Error() string {
	field := e.Field
	if field == "" {
		field = "firewall entry"
	}
	entry := e.Entry
	if len(entry) > maxQuoted {
		entry = entry[:maxQuoted] + "..."
	}
	if e.Code == errcode.FirewallDomainsTooMany {
		return fmt.Sprintf("%s: %s", field, e.Reason)
	}
	return fmt.Sprintf("%s %q: %s", field, entry, e.Reason)
}

// Unwrap returns ErrInvalid so callers can use errors.Is.
func (e *Error) Unwrap() error { return ErrInvalid }

func domainError(entry, reason string) *Error {
	return &Error{Code: errcode.FirewallDomainInvalid, Entry: entry, Reason: reason}
}
