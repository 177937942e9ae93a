package orchestrator

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
)

var (
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	idRE   = regexp.MustCompile(`^[a-z2-7]{20}$`)
	idEnc  = base32.StdEncoding.WithPadding(base32.NoPadding)
)

// newID returns a random 20-character lowercase base32 id (100 bits), valid as
// a DNS label and a Docker or Kubernetes name component.
func newID() string {
	b := make([]byte, 13)
	_, _ = rand.Read(b)
	return strings.ToLower(idEnc.EncodeToString(b))[:20]
}

// ValidateID checks the shape of a workspace id.
func ValidateID(id string) error {
	if !idRE.MatchString(id) {
		return invalid(errcode.WorkspaceIDInvalid, "id", "id "+quote(id)+" is not a workspace id (20 characters a-z, 2-7)")
	}
	return nil
}

func validateName(name string) error {
	if !nameRE.MatchString(name) {
		return invalid(errcode.WorkspaceNameInvalid, "name",
			"name "+quote(name)+" must be 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit")
	}
	return nil
}

func validateService(s workspace.Service) error {
	if s.Valid() {
		return nil
	}
	return invalid(errcode.WorkspaceServiceInvalid, "service", "service "+quote(string(s))+" must be one of "+join(workspace.Services))
}

func validateState(s workspace.State) error {
	if s.Valid() {
		return nil
	}
	return invalid(errcode.WorkspaceStateInvalid, "state", "state "+quote(string(s))+" must be one of "+join(workspace.States))
}

// validateKnownProvisioner checks that p names a provisioner.
func validateKnownProvisioner(p workspace.Provisioner) error {
	if p.Valid() {
		return nil
	}
	return invalid(errcode.WorkspaceProvisionerInvalid, "provisioner", "provisioner "+quote(string(p))+" must be docker or kubernetes")
}

func validateProvisioner(p workspace.Provisioner, enabled []workspace.Provisioner) error {
	if err := validateKnownProvisioner(p); err != nil {
		return err
	}
	if slices.Contains(enabled, p) {
		return nil
	}
	return invalid(errcode.WorkspaceProvisionerNotEnabled, "provisioner",
		"provisioner "+quote(string(p))+" is not enabled on this server (enabled: "+join(enabled)+")")
}

// join lists words separated by ", ".
func join[T ~string](words []T) string {
	s := make([]string, len(words))
	for i, w := range words {
		s[i] = string(w)
	}
	return strings.Join(s, ", ")
}

// groupSettings validates one firewall group; mode "" defaults to allowlist.
func groupSettings(g policy.Group, enabled bool, mode string, domains []string) (policy.Settings, error) {
	if mode == "" {
		mode = string(policy.ModeAllowlist)
	}
	s, err := policy.Validate(g.Prefix(), policy.Settings{NetworkAccessEnabled: enabled, Mode: policy.Mode(mode), AllowedDomains: domains})
	var pe *policy.Error
	if errors.As(err, &pe) {
		return s, &Error{Kind: ErrInvalidArgument, Code: pe.Code, Field: pe.Field, Message: pe.Error()}
	}
	return s, err
}

// applyFirewall validates both groups and writes them into w.
func applyFirewall(w *workspacev1.Workspace, wsEnabled bool, wsMode string, wsDomains []string, brEnabled bool, brMode string, brDomains []string) error {
	ws, err := groupSettings(policy.GroupWorkspace, wsEnabled, wsMode, wsDomains)
	if err != nil {
		return err
	}
	br, err := groupSettings(policy.GroupBrowser, brEnabled, brMode, brDomains)
	if err != nil {
		return err
	}
	w.WorkspaceFirewallNetworkAccessEnabled = ws.NetworkAccessEnabled
	w.WorkspaceFirewallDomainAccessMode = string(ws.Mode)
	w.WorkspaceFirewallAllowedDomains = ws.AllowedDomains
	w.BrowserFirewallNetworkAccessEnabled = br.NetworkAccessEnabled
	w.BrowserFirewallDomainAccessMode = string(br.Mode)
	w.BrowserFirewallAllowedDomains = br.AllowedDomains
	return nil
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strconv.Quote(s)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
