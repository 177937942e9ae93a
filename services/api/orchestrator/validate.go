package orchestrator

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"regexp"
	"strconv"
	"strings"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/firewall/policy"
)

// Provisioners.
const (
	ProvisionerDocker     = "docker"
	ProvisionerKubernetes = "kubernetes"
)

// Service names.
const (
	ServiceRuntime  = "runtime"
	ServiceTerminal = "terminal"
	ServiceBrowser  = "browser"
	ServiceCanvas   = "canvas"
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
		return invalid("WORKSPACE_ID_INVALID", "id", "id "+quote(id)+" is not a workspace id (20 characters a-z, 2-7)")
	}
	return nil
}

func validateName(name string) error {
	if !nameRE.MatchString(name) {
		return invalid("WORKSPACE_NAME_INVALID", "name",
			"name "+quote(name)+" must be 1-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit")
	}
	return nil
}

func validateService(s string) error {
	switch s {
	case ServiceRuntime, ServiceTerminal, ServiceBrowser, ServiceCanvas:
		return nil
	}
	return invalid("WORKSPACE_SERVICE_INVALID", "service", "service "+quote(s)+" must be one of runtime, terminal, browser, canvas")
}

func validateState(s string) error {
	for _, st := range States {
		if s == st {
			return nil
		}
	}
	return invalid("WORKSPACE_STATE_INVALID", "state", "state "+quote(s)+" must be one of "+strings.Join(States, ", "))
}

func validateProvisioner(p string, enabled []string) error {
	if p != ProvisionerDocker && p != ProvisionerKubernetes {
		return invalid("WORKSPACE_PROVISIONER_INVALID", "provisioner", "provisioner "+quote(p)+" must be docker or kubernetes")
	}
	for _, e := range enabled {
		if e == p {
			return nil
		}
	}
	return invalid("WORKSPACE_PROVISIONER_NOT_ENABLED", "provisioner",
		"provisioner "+quote(p)+" is not enabled on this server (enabled: "+strings.Join(enabled, ", ")+")")
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
