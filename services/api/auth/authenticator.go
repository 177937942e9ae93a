package auth

import (
	"context"
	"errors"
	"strings"

	"aileron.dev/pkg/errcode"
)

// Config selects the authentication methods. With neither OIDC nor tokens
// configured, Dev must be true: every caller is the admin "dev" user.
type Config struct {
	OIDC *OIDCConfig
	// Tokens maps the hex SHA-256 of each static API token to its entry.
	Tokens map[string]StaticToken
	// Dev allows unauthenticated access (aileron dev on loopback only).
	Dev bool
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.OIDC == nil && len(c.Tokens) == 0 && !c.Dev {
		return errors.New("auth: configure an OIDC issuer or an API tokens file")
	}
	if c.OIDC != nil {
		return c.OIDC.Validate()
	}
	return nil
}

// Authenticator turns a bearer token into a Principal.
type Authenticator struct {
	cfg  Config
	oidc *oidcVerifier
}

// New returns an authenticator.
func New(cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Authenticator{cfg: cfg}
	if cfg.OIDC != nil {
		a.oidc = newOIDCVerifier(*cfg.OIDC)
	}
	return a, nil
}

// Open reports whether the authenticator admits unauthenticated callers.
func (a *Authenticator) Open() bool { return a.cfg.Dev && a.cfg.OIDC == nil && len(a.cfg.Tokens) == 0 }

// Authenticate checks the value of an Authorization header.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Principal, error) {
	if a.Open() {
		return Principal{Subject: OwnerDev, Admin: true, Method: "dev"}, nil
	}
	scheme, token, ok := strings.Cut(header, " ")
	if header == "" || !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
		return Principal{}, &Error{Code: errcode.AuthTokenMissing, Message: "an Authorization: Bearer <token> header is required"}
	}
	if t, ok := a.cfg.Tokens[HashToken(token)]; ok {
		return Principal{Subject: OwnerToken + t.Name, Admin: t.Admin, Method: "token"}, nil
	}
	if a.oidc != nil && strings.Count(token, ".") == 2 {
		return a.oidc.verify(ctx, token)
	}
	return Principal{}, &Error{Code: errcode.AuthTokenInvalid, Message: "the bearer token is not valid"}
}

// LegacyOwner maps an owner recorded before owners named their kind to the
// qualified owner it stands for: the static token of that name if one is
// configured, else the OIDC subject when OIDC is configured, else a (since
// removed) token. A qualified owner is returned as is.
func (a *Authenticator) LegacyOwner(owner string) string {
	if owner == "" || qualified(owner) {
		return owner
	}
	for _, t := range a.cfg.Tokens {
		if t.Name == owner {
			return OwnerToken + owner
		}
	}
	if a.cfg.OIDC != nil {
		return OwnerOIDC + owner
	}
	return OwnerToken + owner
}
