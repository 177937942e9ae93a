package egress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"aileron.dev/pkg/periodic"
	"aileron.dev/services/firewall/policy"
)

// Policies are the effective policies of both groups of one workspace, as the
// gateway's policy file holds them: {"workspace": {...}, "browser": {...}}.
// A group missing from the file gets the zero Effective, which allows nothing.
type Policies struct {
	// Workspace is the policy of the workspace group.
	Workspace policy.Effective `json:"workspace"`
	// Browser is the policy of the browser group.
	Browser policy.Effective `json:"browser"`
}

// For returns the policy of group g; an unknown group gets one that allows nothing.
func (ps Policies) For(g policy.Group) policy.Effective {
	switch g {
	case policy.GroupWorkspace:
		return ps.Workspace
	case policy.GroupBrowser:
		return ps.Browser
	}
	return policy.Effective{Group: g}
}

// ParsePolicies decodes a policy file strictly (unknown fields are errors)
// and re-validates it: modes must be known and every domain is normalised
// again, so a hand-edited or stale file cannot widen what Allows matches.
func ParsePolicies(data []byte) (Policies, error) {
	var ps Policies
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ps); err != nil {
		return Policies{}, fmt.Errorf("decode policy file: %w", err)
	}
	var err error
	if ps.Workspace, err = checkEffective(policy.GroupWorkspace, ps.Workspace); err != nil {
		return Policies{}, err
	}
	if ps.Browser, err = checkEffective(policy.GroupBrowser, ps.Browser); err != nil {
		return Policies{}, err
	}
	return ps, nil
}

func checkEffective(g policy.Group, e policy.Effective) (policy.Effective, error) {
	if e.Group != "" && e.Group != g {
		return policy.Effective{}, fmt.Errorf("policy file: %s entry names group %q: %w", g, e.Group, policy.ErrInvalid)
	}
	e.Group = g
	if e.Mode == "" && !e.NetworkAccessEnabled && len(e.AllowedDomains) == 0 {
		return e, nil // absent group: allows nothing
	}
	mode, err := policy.ParseMode(string(e.Mode))
	if err != nil {
		return policy.Effective{}, fmt.Errorf("policy file %s: %w", g, err)
	}
	e.Mode = mode
	domains := make([]string, 0, len(e.AllowedDomains))
	for _, d := range e.AllowedDomains {
		n, err := policy.Normalize(d)
		if err != nil {
			return policy.Effective{}, fmt.Errorf("policy file %s: %w", g, err)
		}
		domains = append(domains, n)
	}
	slices.Sort(domains)
	e.AllowedDomains = slices.Compact(domains)
	return e, nil
}

// LoadPolicies reads and parses the policy file at path.
func LoadPolicies(path string) (Policies, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Policies{}, fmt.Errorf("read policy file: %w", err)
	}
	return ParsePolicies(data)
}

// PolicyDigest is the digest of a policy file's content, as the gateway
// publishes it once the policy is in force (ingress.PolicyPath).
func PolicyDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// WatchPolicyFile polls path every interval and calls apply with the parsed
// policies and the file's PolicyDigest whenever the file's content changes
// (and once at start when it is readable). Polling content rather than inotify works for files replaced by
// rename and for bind mounts. A missing or invalid file is logged and the last
// applied policies stay in force. It returns when ctx is done.
func WatchPolicyFile(ctx context.Context, path string, interval time.Duration, apply func(ps Policies, digest string), log *slog.Logger) {
	var last []byte
	var lastErr string
	check := func() {
		data, err := os.ReadFile(path)
		if err == nil && bytes.Equal(data, last) {
			return
		}
		var ps Policies
		if err == nil {
			ps, err = ParsePolicies(data)
		}
		if err != nil {
			switch {
			case err.Error() == lastErr:
			case last == nil && errors.Is(err, fs.ErrNotExist):
				// A gateway starts while its provisioner writes the file.
				log.Info("waiting for the policy file; refusing everything until then", slog.String("path", path))
			default:
				log.Error("policy file not applied", slog.String("path", path), slog.Any("error", err))
			}
			lastErr = err.Error()
			return
		}
		last, lastErr = data, ""
		apply(ps, PolicyDigest(data))
		log.Info("policy file applied", slog.String("path", path),
			slog.String("workspace_mode", string(ps.Workspace.Mode)), slog.String("browser_mode", string(ps.Browser.Mode)))
	}
	check()
	periodic.Run(ctx, interval, func(context.Context) { check() })
}
