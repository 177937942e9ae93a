// Package auth authenticates API callers (OIDC bearer tokens and static API
// tokens), limits their request rate and records an audit event for every
// command. One set of gRPC interceptors does it for gRPC and, because the
// gateway forwards the Authorization header over real gRPC, for REST too.
package auth

import (
	"context"
	"strings"
)

// Principal is an authenticated caller.
type Principal struct {
	// Subject identifies the user, qualified by how they authenticated
	// ("token:<name>", "oidc:<subject>", or "dev"), so a token's name and an
	// OIDC subject never share a namespace; it becomes the owner of their
	// workspaces.
	Subject string
	// Admin callers see and act on every workspace.
	Admin bool
	// Method is how they authenticated: oidc, token or dev.
	Method string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller, if authenticated.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Identity adapts the principal to the orchestrator's identity function.
func Identity(ctx context.Context) (owner string, admin bool) {
	p, _ := FromContext(ctx)
	return p.Subject, p.Admin
}

// The kinds of owner; an owner is the kind's prefix and the name.
const (
	OwnerToken = "token:"
	OwnerOIDC  = "oidc:"
	OwnerDev   = "dev"
)

// qualified reports whether owner already names its kind.
func qualified(owner string) bool {
	return owner == OwnerDev || strings.HasPrefix(owner, OwnerToken) || strings.HasPrefix(owner, OwnerOIDC)
}
