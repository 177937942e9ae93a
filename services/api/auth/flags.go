package auth

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"
)

// Flags are the command-line settings of authentication and abuse limits,
// shared by `aileron dev` and the api binary.
type Flags struct {
	issuer, audience, subjectClaim, adminClaim, adminValue string
	tokensFile                                             string
	skew                                                   time.Duration
	ratePerSecond                                          float64
	rateBurst                                              int
	// MaxWorkspaces is the per-user workspace quota (0: unlimited).
	MaxWorkspaces int
	// MaxWatches is the most watch streams one user holds open (0: unlimited).
	MaxWatches int
	// FirewallAdminOnly reserves firewall changes to admins.
	FirewallAdminOnly bool
}

// Register adds the flags to fs; a config.Set reads each from its AILERON_*
// environment variable too (--oidc-issuer: AILERON_OIDC_ISSUER).
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.issuer, "oidc-issuer", "", "OIDC issuer URL; bearer tokens from it are accepted")
	fs.StringVar(&f.audience, "oidc-audience", "", "audience (client id) OIDC tokens must carry")
	fs.StringVar(&f.subjectClaim, "oidc-subject-claim", "sub", "claim naming the user")
	fs.StringVar(&f.adminClaim, "oidc-admin-claim", "groups", "claim that marks admins")
	fs.StringVar(&f.adminValue, "oidc-admin-value", "aileron-admins", "value of the admin claim that marks admins")
	fs.DurationVar(&f.skew, "oidc-clock-skew", time.Minute, "tolerated clock skew on token times (at most 5m)")
	fs.StringVar(&f.tokensFile, "tokens-file", "", `JSON file of static API tokens: [{"name": "ci-bot", "sha256": "<hex sha256 of the token>", "admin": false}]`)
	fs.Float64Var(&f.ratePerSecond, "rate-limit", 5, "mutating calls per second allowed per caller (0: unlimited)")
	fs.IntVar(&f.rateBurst, "rate-burst", 20, "burst of mutating calls per caller")
	fs.IntVar(&f.MaxWorkspaces, "max-workspaces-per-user", 50, "workspaces one user may own (0: unlimited)")
	fs.IntVar(&f.MaxWatches, "max-watches-per-user", 32, "watch streams one user may hold open at once (0: unlimited)")
	fs.BoolVar(&f.FirewallAdminOnly, "firewall-admin-only", false, "only admins may change firewall settings")
}

// Configured reports whether any authentication method is set.
func (f *Flags) Configured() bool { return f.issuer != "" || f.tokensFile != "" }

// Build returns the authenticator and the limiter. Without any method it
// returns an open (dev) authenticator, but only when every listen address is
// loopback; exposing an unauthenticated API is refused.
func (f *Flags) Build(listen ...string) (*Authenticator, *Limiter, error) {
	cfg := Config{}
	if f.issuer != "" {
		cfg.OIDC = &OIDCConfig{Issuer: f.issuer, Audience: f.audience, SubjectClaim: f.subjectClaim,
			AdminClaim: f.adminClaim, AdminValue: f.adminValue, ClockSkew: f.skew}
	}
	if f.tokensFile != "" {
		t, err := LoadTokens(f.tokensFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.Tokens = t
	}
	if !f.Configured() {
		for _, addr := range listen {
			if !loopback(addr) {
				return nil, nil, fmt.Errorf("no authentication is configured (--oidc-issuer or --tokens-file), so the API may listen on loopback only, not %q", addr)
			}
		}
		cfg.Dev = true
	}
	a, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	var l *Limiter
	if f.ratePerSecond > 0 {
		if f.rateBurst < 1 {
			return nil, nil, errors.New("--rate-burst must be at least 1")
		}
		l = NewLimiter(f.ratePerSecond, f.rateBurst)
	}
	return a, l, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
