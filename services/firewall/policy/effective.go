package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Effective is the policy one group of a workspace is enforced with. It is
// what the firewall status reports, what the Cilium renderer renders and what
// the egress gateway matches against.
type Effective struct {
	// Group is the group the policy applies to.
	Group Group `json:"group"`
	// NetworkAccessEnabled false means nothing leaves, not even DNS.
	NetworkAccessEnabled bool `json:"network_access_enabled"`
	// Mode is the domain access mode.
	Mode Mode `json:"mode"`
	// AllowedDomains is the group defaults ∪ the workspace list, normalised,
	// deduplicated and sorted (never nil). It grants access only when
	// NetworkAccessEnabled is true and Mode is ModeAllowlist.
	AllowedDomains []string `json:"allowed_domains"`
}

// Compute validates the workspace settings s of group g and merges them with
// the group's system defaults into the Effective policy. Errors name the
// offending setting (e.g. "browser_firewall_allowed_domains[1]"); an invalid
// default is reported under "defaults.<group>[i]".
func Compute(g Group, defaults []string, s Settings) (Effective, error) {
	if !g.Valid() {
		return Effective{}, fmt.Errorf("compute firewall policy: unknown group %q: %w", g, ErrInvalid)
	}
	v, err := Validate(g.Prefix(), s)
	if err != nil {
		return Effective{}, err
	}
	d, err := normalizeList("defaults."+string(g), defaults)
	if err != nil {
		return Effective{}, err
	}
	merged := append(d, v.AllowedDomains...)
	slices.Sort(merged)
	return Effective{
		Group:                g,
		NetworkAccessEnabled: v.NetworkAccessEnabled,
		Mode:                 v.Mode,
		AllowedDomains:       slices.Compact(merged),
	}, nil
}

// Allows reports whether a connection to host may leave under e. host is a
// name as a client sent it (CONNECT authority or Host header, without port);
// it is normalised first, so IP literals and anything else Normalize rejects
// are never allowed. With network access disabled or in ModeDeny nothing is
// allowed; ModeUnrestricted allows any valid public DNS name (the caller still
// checks the resolved addresses with PublicAddr). In ModeAllowlist an exact
// entry matches only itself and "*.example.com" matches any name below
// example.com but not example.com itself.
func (e Effective) Allows(host string) bool {
	if !e.NetworkAccessEnabled {
		return false
	}
	name, err := Normalize(host)
	if err != nil || strings.HasPrefix(name, "*.") {
		return false
	}
	switch e.Mode {
	case ModeUnrestricted:
		return true
	case ModeAllowlist:
		return matchAny(e.AllowedDomains, name)
	}
	return false
}

func matchAny(entries []string, name string) bool {
	for _, entry := range entries {
		if base, ok := strings.CutPrefix(entry, "*."); ok {
			if strings.HasSuffix(name, "."+base) {
				return true
			}
			continue
		}
		if entry == name {
			return true
		}
	}
	return false
}
