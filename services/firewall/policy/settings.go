package policy

import (
	"errors"
	"fmt"
	"strings"

	"aileron.dev/pkg/errcode"
)

// Mode is a group's domain access mode.
type Mode string

// The domain access modes.
const (
	// ModeAllowlist lets traffic reach only the effective allowed domains.
	ModeAllowlist Mode = "allowlist"
	// ModeDeny lets no traffic reach any external domain.
	ModeDeny Mode = "deny"
	// ModeUnrestricted lets traffic reach any public address, never a private,
	// link-local or metadata one.
	ModeUnrestricted Mode = "unrestricted"
)

// ParseMode returns the Mode named by s. The empty string is rejected: callers
// that accept an omitted mode choose the default themselves.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAllowlist, ModeDeny, ModeUnrestricted:
		return m, nil
	}
	return "", &Error{
		Code:   errcode.FirewallModeInvalid,
		Entry:  s,
		Reason: fmt.Sprintf("unknown mode, want one of %q, %q, %q", ModeAllowlist, ModeDeny, ModeUnrestricted),
	}
}

// Group is the set of containers one egress policy applies to.
type Group string

// The policy groups of a workspace.
const (
	// GroupWorkspace covers the runtime, terminal and canvas containers.
	GroupWorkspace Group = "workspace"
	// GroupBrowser covers the browser (chrome) container.
	GroupBrowser Group = "browser"
)

// Groups lists every group in a stable order.
var Groups = []Group{GroupWorkspace, GroupBrowser}

// Valid reports whether g is a known group.
func (g Group) Valid() bool { return g == GroupWorkspace || g == GroupBrowser }

// Suffixes of the per-group setting names; see Group.Setting.
const (
	SettingNetworkAccessEnabled = "network_access_enabled"
	SettingDomainAccessMode     = "domain_access_mode"
	SettingAllowedDomains       = "allowed_domains"
)

// Prefix is the prefix of the group's setting names, e.g. "browser_firewall".
// It is the field argument Validate expects.
func (g Group) Prefix() string { return string(g) + "_firewall" }

// Setting returns the full name of one of the group's settings, e.g.
// GroupWorkspace.Setting(SettingAllowedDomains) = "workspace_firewall_allowed_domains".
func (g Group) Setting(suffix string) string { return g.Prefix() + "_" + suffix }

// Settings are one group's firewall settings as a workspace stores them.
type Settings struct {
	// NetworkAccessEnabled false means nothing leaves, whatever the mode.
	NetworkAccessEnabled bool `json:"network_access_enabled"`
	// Mode is the domain access mode.
	Mode Mode `json:"domain_access_mode"`
	// AllowedDomains is the workspace's own list, merged with the group defaults.
	AllowedDomains []string `json:"allowed_domains"`
}

// Defaults are the system default allowed domains of each group (operator
// configuration, e.g. package registries and the model API for the workspace).
type Defaults struct {
	// Workspace lists the defaults of GroupWorkspace.
	Workspace []string `json:"workspace"`
	// Browser lists the defaults of GroupBrowser.
	Browser []string `json:"browser"`
}

// For returns the defaults of group g (nil for an unknown group).
func (d Defaults) For(g Group) []string {
	switch g {
	case GroupWorkspace:
		return d.Workspace
	case GroupBrowser:
		return d.Browser
	}
	return nil
}

// Validate checks the mode and the allowed domains of s and returns s with the
// domains normalised, deduplicated and sorted (never nil). field is the
// settings prefix used in error messages, normally Group.Prefix(): errors name
// field+"_domain_access_mode" or field+"_allowed_domains[i]".
func Validate(field string, s Settings) (Settings, error) {
	mode, err := ParseMode(string(s.Mode))
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Field = joinField(field, SettingDomainAccessMode)
		}
		return Settings{}, err
	}
	domains, err := NormalizeDomains(joinField(field, SettingAllowedDomains), s.AllowedDomains)
	if err != nil {
		return Settings{}, err
	}
	return Settings{NetworkAccessEnabled: s.NetworkAccessEnabled, Mode: mode, AllowedDomains: domains}, nil
}

func joinField(prefix, suffix string) string {
	if prefix == "" {
		return suffix
	}
	return strings.TrimSuffix(prefix, "_") + "_" + suffix
}
