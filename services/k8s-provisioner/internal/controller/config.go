package controller

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/cilium"
	"aileron.dev/services/firewall/policy"
)

// Config tunes the Workspace reconciler. The zero value plus Defaults() is a
// working configuration.
type Config struct {
	// Workers is how many Workspaces are reconciled concurrently (default 4).
	Workers int
	// DefaultsConfigMap holds the system default allowed domains: keys
	// "workspace" and "browser", each a list separated by newlines, commas or
	// spaces. An empty Name means no defaults; a missing ConfigMap counts as
	// empty.
	DefaultsConfigMap types.NamespacedName

	// RunAsUser is the numeric non-root user (and group, and fsGroup) every
	// workspace container runs as.
	RunAsUser int64

	// Services are the settings of each service the operator reads: the
	// container Port, which the service's Service exposes too. Images and
	// resources come with each Workspace.
	Services workspace.PerService[workspace.ServiceConfig]

	// StorageBindDeadline is how long a claim of a running workspace may stay
	// Pending before the workspace is Failed.
	StorageBindDeadline time.Duration

	// CiliumRecheckInterval is how often a workspace is reconciled again while
	// the CiliumNetworkPolicy resource is missing, so a later Cilium install
	// is picked up.
	CiliumRecheckInterval time.Duration

	// DNS selects the cluster DNS pods policies allow name lookups to.
	DNS DNSConfig

	// PrivateCIDRs are the ranges an unrestricted policy never reaches.
	PrivateCIDRs []string

	// FrontDoor selects the API's pods: besides a group's own pods, the only
	// pods that may connect to a workspace's pods. Without labels nothing
	// outside the group may (the front door cannot reach the workspace).
	FrontDoor cilium.Peer
}

// defaultPorts are the ports the workspace images listen on: the runtime's
// and canvas's HTTP, the web terminal's and the browser's CDP.
var defaultPorts = map[workspace.Service]int{
	workspace.ServiceRuntime: 8080, workspace.ServiceTerminal: 7681,
	workspace.ServiceBrowser: 9222, workspace.ServiceCanvas: 3000,
}

// DNSConfig selects the cluster DNS pods.
type DNSConfig struct {
	// Namespace of the DNS pods.
	Namespace string
	// Labels of the DNS pods.
	Labels map[string]string
}

// Defaults returns c with every unset field filled in.
func (c Config) Defaults() Config {
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.RunAsUser == 0 {
		c.RunAsUser = 65532
	}
	for _, s := range workspace.Services {
		if svc := c.Services.Get(s); svc.Port == 0 {
			svc.Port = defaultPorts[s]
		}
	}
	if c.StorageBindDeadline == 0 {
		c.StorageBindDeadline = 5 * time.Minute
	}
	if c.CiliumRecheckInterval == 0 {
		c.CiliumRecheckInterval = time.Minute
	}
	if c.DNS.Namespace == "" {
		c.DNS.Namespace = "kube-system"
	}
	if c.DNS.Labels == nil {
		c.DNS.Labels = map[string]string{"k8s-app": "kube-dns"}
	}
	if c.PrivateCIDRs == nil {
		for _, p := range policy.BlockedPrefixes() {
			c.PrivateCIDRs = append(c.PrivateCIDRs, p.String())
		}
	}
	return c
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	if c.RunAsUser <= 0 {
		return errors.New("config: RunAsUser must be a non-root uid (> 0)")
	}
	for _, s := range workspace.Services {
		if p := c.Services.Get(s).Port; p <= 0 || p > 65535 {
			return fmt.Errorf("config: Services.%s.Port %d is not a port", s, p)
		}
	}
	if c.Services.Runtime.Port == c.Services.Terminal.Port {
		return errors.New("config: the runtime and terminal ports share a pod and must differ")
	}
	if c.StorageBindDeadline <= 0 || c.CiliumRecheckInterval <= 0 {
		return errors.New("config: StorageBindDeadline and CiliumRecheckInterval must be positive")
	}
	if c.DefaultsConfigMap.Name != "" && c.DefaultsConfigMap.Namespace == "" {
		return errors.New("config: DefaultsConfigMap needs a namespace")
	}
	return nil
}
