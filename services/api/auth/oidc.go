package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"aileron.dev/pkg/errcode"
)

// OIDCConfig configures bearer-token validation against an OIDC issuer
// (Keycloak, Dex, Entra ID, …).
type OIDCConfig struct {
	// Issuer URL; discovery and the JWKS come from it.
	Issuer string
	// Audience the tokens must carry (the client id).
	Audience string
	// SubjectClaim names the user (default "sub"; "email" or "preferred_username" are common).
	SubjectClaim string
	// AdminClaim and AdminValue: a token whose claim equals, or lists, the value is an admin.
	AdminClaim, AdminValue string
	// ClockSkew tolerated on exp/nbf/iat (default 1m, at most 5m).
	ClockSkew time.Duration
	// HTTPClient for discovery and JWKS (default http.DefaultClient).
	HTTPClient *http.Client
}

// Validate checks the configuration.
func (c OIDCConfig) Validate() error {
	if c.Issuer == "" || c.Audience == "" {
		return errors.New("oidc: issuer and audience are required")
	}
	if c.ClockSkew < 0 || c.ClockSkew > 5*time.Minute {
		return errors.New("oidc: clock skew must be between 0 and 5m")
	}
	return nil
}

// oidcVerifier discovers the issuer lazily (so the API starts while the IdP is
// down) and caches its keys (keySet), fetched again, at a bounded rate, when
// an unknown key id appears.
type oidcVerifier struct {
	cfg      OIDCConfig
	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	now      func() time.Time
}

func newOIDCVerifier(cfg OIDCConfig) *oidcVerifier {
	if cfg.SubjectClaim == "" {
		cfg.SubjectClaim = "sub"
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	return &oidcVerifier{cfg: cfg, now: time.Now}
}

func (v *oidcVerifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), v.cfg.HTTPClient), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	var meta struct {
		JWKS string   `json:"jwks_uri"`
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("oidc discovery: no jwks_uri (%v)", err)
	}
	if len(meta.Algs) == 0 {
		meta.Algs = []string{oidc.RS256} // the one algorithm every provider must support
	}
	ks := &keySet{uri: meta.JWKS, client: v.cfg.HTTPClient, every: jwksRefetch, now: v.now}
	for _, a := range meta.Algs {
		if a != "none" {
			ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
		}
	}
	// The key set checks the signature and the algorithm (never "none");
	// the claims are checked below so each failure gets its own code and
	// the clock skew is bounded.
	v.verifier = oidc.NewVerifier(v.cfg.Issuer, ks, &oidc.Config{
		SkipClientIDCheck: true, SkipIssuerCheck: true, SkipExpiryCheck: true, SupportedSigningAlgs: meta.Algs,
	})
	return v.verifier, nil
}

type claims struct {
	Issuer    string   `json:"iss"`
	Audience  audience `json:"aud"`
	Expiry    *float64 `json:"exp"`
	NotBefore *float64 `json:"nbf"`
	IssuedAt  *float64 `json:"iat"`
}

// audience accepts the string or array forms of "aud".
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := jsonUnmarshal(b, &one); err == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := jsonUnmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// verify returns the principal of a valid token or an *Error.
func (v *oidcVerifier) verify(ctx context.Context, raw string) (Principal, error) {
	ver, err := v.get(ctx)
	if err != nil {
		return Principal{}, &Error{Code: errcode.AuthIssuerUnavailable, Message: "the identity provider is unreachable; retry", Unavailable: true}
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		return Principal{}, &Error{Code: errcode.AuthTokenInvalid, Message: "the bearer token is not a valid signed token from the configured issuer"}
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return Principal{}, &Error{Code: errcode.AuthTokenInvalid, Message: "the bearer token's claims cannot be read"}
	}
	now, skew := v.now(), v.cfg.ClockSkew
	switch {
	case c.Issuer != v.cfg.Issuer:
		return Principal{}, &Error{Code: errcode.AuthIssuerInvalid, Message: "the bearer token was issued by " + quote(c.Issuer) + ", not the configured issuer"}
	case !slices.Contains(c.Audience, v.cfg.Audience):
		return Principal{}, &Error{Code: errcode.AuthAudienceInvalid, Message: "the bearer token is not meant for audience " + quote(v.cfg.Audience)}
	case c.Expiry == nil || now.After(unix(*c.Expiry).Add(skew)):
		return Principal{}, &Error{Code: errcode.AuthTokenExpired, Message: "the bearer token has expired"}
	case c.NotBefore != nil && now.Add(skew).Before(unix(*c.NotBefore)):
		return Principal{}, &Error{Code: errcode.AuthTokenInvalid, Message: "the bearer token is not valid yet"}
	case c.IssuedAt != nil && now.Add(skew).Before(unix(*c.IssuedAt)):
		return Principal{}, &Error{Code: errcode.AuthTokenInvalid, Message: "the bearer token was issued in the future"}
	}
	var all map[string]any
	if err := tok.Claims(&all); err != nil {
		return Principal{}, &Error{Code: errcode.AuthTokenInvalid, Message: "the bearer token's claims cannot be read"}
	}
	sub, _ := all[v.cfg.SubjectClaim].(string)
	if sub == "" {
		return Principal{}, &Error{Code: errcode.AuthTokenInvalid, Message: "the bearer token has no " + quote(v.cfg.SubjectClaim) + " claim"}
	}
	if v.cfg.SubjectClaim == "email" && !verified(all["email_verified"]) {
		return Principal{}, &Error{Code: errcode.AuthEmailUnverified, Message: "the bearer token's email is not verified (email_verified is not true), so it cannot name the user"}
	}
	return Principal{Subject: OwnerOIDC + sub, Admin: v.isAdmin(all), Method: "oidc"}, nil
}

func (v *oidcVerifier) isAdmin(all map[string]any) bool {
	if v.cfg.AdminClaim == "" {
		return false
	}
	switch val := all[v.cfg.AdminClaim].(type) {
	case string:
		return val == v.cfg.AdminValue
	case bool:
		return val && v.cfg.AdminValue == "true"
	case []any:
		for _, x := range val {
			if s, ok := x.(string); ok && s == v.cfg.AdminValue {
				return true
			}
		}
	}
	return false
}

// verified reads an email_verified claim: true, or "true" as some
// providers send it.
func verified(claim any) bool {
	switch v := claim.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

func unix(f float64) time.Time { return time.Unix(int64(f), 0) }
