package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/cilium"
	"aileron.dev/services/firewall/policy"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// policyGVK is Cilium's namespaced network policy.
var policyGVK = schema.GroupVersionKind{Group: "cilium.io", Version: "v2", Kind: "CiliumNetworkPolicy"}

// firewallResult is what the firewall part of a reconcile observed.
type firewallResult struct {
	condition metav1.Condition
	effective map[policy.Group]policy.Effective
	requeue   time.Duration
}

// reconcileFirewall computes the effective policy of each group and writes
// one CiliumNetworkPolicy per group. Invalid settings fail closed: the group
// gets a policy that lets nothing out. Without Cilium the policies are
// computed and reported but not enforced, and the condition says so.
func (r *WorkspaceReconciler) reconcileFirewall(ctx context.Context, ws *v1alpha1.Workspace) (firewallResult, error) {
	res := firewallResult{
		condition: condition(ws, v1alpha1.ConditionFirewallApplied, true, v1alpha1.ReasonPolicyApplied, "egress policies applied"),
		effective: map[policy.Group]policy.Effective{},
	}
	defaults, err := r.loadDefaults(ctx)
	if err != nil {
		res.condition = condition(ws, v1alpha1.ConditionFirewallApplied, false, v1alpha1.ReasonPolicyApplyFailed, err.Error())
		return res, err
	}
	var invalid []string
	for _, g := range policy.Groups {
		eff, err := policy.Compute(g, defaults.For(g), settingsOf(ws, g))
		if err != nil {
			invalid = append(invalid, err.Error())
			eff = policy.Effective{Group: g, Mode: policy.ModeDeny, AllowedDomains: []string{}}
		}
		res.effective[g] = eff
	}
	if len(invalid) > 0 {
		res.condition = condition(ws, v1alpha1.ConditionFirewallApplied, false, v1alpha1.ReasonInvalidPolicy,
			"invalid firewall settings, egress blocked: "+strings.Join(invalid, "; "))
	}

	// Whatever the CNI, a Kubernetes NetworkPolicy per group admits only the
	// workspace's own pods and the front door: the workspace daemons have no
	// authentication of their own, and another workspace's code must not
	// reach them by pod IP when Cilium is not there to say so.
	for _, g := range policy.Groups {
		if err := r.ensureNetworkPolicy(ctx, ws, res.effective[g]); err != nil {
			res.condition = condition(ws, v1alpha1.ConditionFirewallApplied, false, v1alpha1.ReasonPolicyApplyFailed, err.Error())
			return res, err
		}
	}

	installed, err := r.cilium.installed()
	if err != nil {
		err = fmt.Errorf("look up CiliumNetworkPolicy: %w", err)
		res.condition = condition(ws, v1alpha1.ConditionFirewallApplied, false, v1alpha1.ReasonPolicyApplyFailed, err.Error())
		return res, err
	}
	if !installed {
		res.condition = condition(ws, v1alpha1.ConditionFirewallApplied, false, v1alpha1.ReasonCiliumNotInstalled,
			"the cluster has no CiliumNetworkPolicy resource (cilium.io/v2); egress is not enforced")
		res.requeue = r.cfg.CiliumRecheckInterval
		return res, nil
	}
	for _, g := range policy.Groups {
		err := r.ensurePolicy(ctx, ws, res.effective[g])
		if meta.IsNoMatchError(err) {
			r.cilium.markAbsent()
			res.condition = condition(ws, v1alpha1.ConditionFirewallApplied, false, v1alpha1.ReasonCiliumNotInstalled,
				"the CiliumNetworkPolicy resource disappeared; egress is not enforced")
			res.requeue = r.cfg.CiliumRecheckInterval
			return res, nil
		}
		if err != nil {
			res.condition = condition(ws, v1alpha1.ConditionFirewallApplied, false, v1alpha1.ReasonPolicyApplyFailed, err.Error())
			return res, err
		}
	}
	return res, nil
}

// ensurePolicy writes the CiliumNetworkPolicy of one group.
func (r *WorkspaceReconciler) ensurePolicy(ctx context.Context, ws *v1alpha1.Workspace, eff policy.Effective) error {
	l := policyLabels(ws, eff.Group)
	ingressFrom, egressTo := r.peersOf(ws, eff.Group)
	rendered := cilium.Render(cilium.Input{
		Name:         policyName(ws, eff.Group),
		Namespace:    ws.Namespace,
		Labels:       l,
		PodSelector:  groupPods(ws, eff.Group),
		Policy:       eff,
		DNS:          cilium.DNSConfig{Namespace: r.cfg.DNS.Namespace, Labels: r.cfg.DNS.Labels},
		PrivateCIDRs: r.cfg.PrivateCIDRs,
		IngressFrom:  ingressFrom,
		EgressTo:     egressTo,
	})
	// A JSON round trip leaves only the value types unstructured objects
	// can deep-copy ([]any, map[string]any, float64…).
	b, err := json.Marshal(rendered)
	if err != nil {
		return fmt.Errorf("encode policy %s: %w", policyName(ws, eff.Group), err)
	}
	desired := &unstructured.Unstructured{}
	if err := json.Unmarshal(b, &desired.Object); err != nil {
		return fmt.Errorf("decode policy %s: %w", policyName(ws, eff.Group), err)
	}
	desired.SetGroupVersionKind(policyGVK)
	desired.SetName(policyName(ws, eff.Group))
	desired.SetNamespace(ws.Namespace)
	desired.SetLabels(mergeMaps(desired.GetLabels(), l))

	stored := &unstructured.Unstructured{}
	stored.SetGroupVersionKind(policyGVK)
	_, err = ensure(ctx, r, ws, desired, stored, func(s, d *unstructured.Unstructured) {
		for k, v := range d.Object {
			if k != "metadata" && k != "status" && k != "apiVersion" && k != "kind" {
				s.Object[k] = v
			}
		}
		for k := range s.Object {
			if _, ok := d.Object[k]; !ok && k != "metadata" && k != "status" && k != "apiVersion" && k != "kind" {
				delete(s.Object, k)
			}
		}
	})
	return err
}

// policyLabels are the ownership labels of group g's policies.
func policyLabels(ws *v1alpha1.Workspace, g policy.Group) map[string]string {
	l := labels(ws, componentFirewall)
	l[v1alpha1.LabelFirewallGroup] = string(g)
	return l
}

// groupPods selects the pods of group g of ws.
func groupPods(ws *v1alpha1.Workspace, g policy.Group) map[string]string {
	return map[string]string{v1alpha1.LabelWorkspaceID: ws.Spec.WorkspaceID, v1alpha1.LabelFirewallGroup: string(g)}
}

// peersOf are the pods besides its own that group g's pods admit, and the
// pods of the workspace they may connect to. The workspace group reaches
// its own pods (the canvas reads from the runtime) and the browser's
// DevTools port (the agent drives the browser); the browser admits the
// workspace group; both admit the front door. Nothing else crosses between
// the groups.
func (r *WorkspaceReconciler) peersOf(ws *v1alpha1.Workspace, g policy.Group) (ingressFrom, egressTo []cilium.Peer) {
	ingressFrom = []cilium.Peer{r.cfg.FrontDoor}
	if g == policy.GroupWorkspace {
		egressTo = []cilium.Peer{{Labels: groupPods(ws, policy.GroupWorkspace)},
			{Labels: groupPods(ws, policy.GroupBrowser), Ports: []string{strconv.Itoa(int(r.cfg.port(workspace.ServiceBrowser)))}}}
	} else {
		ingressFrom = append(ingressFrom, cilium.Peer{Labels: groupPods(ws, policy.GroupWorkspace)})
	}
	return ingressFrom, egressTo
}

// settingsOf returns the firewall settings of group g of ws.
func settingsOf(ws *v1alpha1.Workspace, g policy.Group) policy.Settings {
	s := ws.Spec.Firewall.Workspace
	if g == policy.GroupBrowser {
		s = ws.Spec.Firewall.Browser
	}
	mode := policy.Mode(s.DomainAccessMode)
	if mode == "" {
		mode = policy.ModeAllowlist
	}
	return policy.Settings{NetworkAccessEnabled: s.NetworkAccessEnabled, Mode: mode, AllowedDomains: s.AllowedDomains}
}

// loadDefaults reads the system default allowed domains.
func (r *WorkspaceReconciler) loadDefaults(ctx context.Context) (policy.Defaults, error) {
	if r.cfg.DefaultsConfigMap.Name == "" {
		return policy.Defaults{}, nil
	}
	cm := &corev1.ConfigMap{}
	err := r.client.Get(ctx, r.cfg.DefaultsConfigMap, cm)
	if apierrors.IsNotFound(err) {
		return policy.Defaults{}, nil
	}
	if err != nil {
		return policy.Defaults{}, fmt.Errorf("get firewall defaults: %w", err)
	}
	return policy.Defaults{
		Workspace: splitDomains(cm.Data[string(policy.GroupWorkspace)]),
		Browser:   splitDomains(cm.Data[string(policy.GroupBrowser)]),
	}, nil
}

// splitDomains splits a ConfigMap value on newlines, commas and spaces;
// "#" starts a comment that runs to the end of the line.
func splitDomains(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		out = append(out, strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		})...)
	}
	return out
}

// ciliumDetector remembers whether the cluster serves CiliumNetworkPolicy.
// A positive answer is kept; a negative one is rechecked at most once per
// interval, since each check costs a discovery request.
type ciliumDetector struct {
	mapper   meta.RESTMapper
	interval time.Duration

	mu        sync.Mutex
	present   bool
	checkedAt time.Time
}

func (d *ciliumDetector) installed() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.present {
		return true, nil
	}
	if !d.checkedAt.IsZero() && time.Since(d.checkedAt) < d.interval {
		return false, nil
	}
	_, err := d.mapper.RESTMapping(policyGVK.GroupKind(), policyGVK.Version)
	if meta.IsNoMatchError(err) {
		d.checkedAt = time.Now()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	d.present = true
	return true, nil
}

func (d *ciliumDetector) markAbsent() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.present = false
	d.checkedAt = time.Now()
}
