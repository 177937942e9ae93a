package controller_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// netpol returns the NetworkPolicy of a group of ws.
func netpol(c require.TestingT, ctx context.Context, ws *v1alpha1.Workspace, group string) *networkingv1.NetworkPolicy {
	p := &networkingv1.NetworkPolicy{}
	get(c, ctx, ws, "ws-"+ws.Spec.WorkspaceID+"-firewall-"+group, p)
	return p
}

// TestNetworkPoliciesAdmitOnlyTheWorkspace: whatever the CNI, each group's
// pods admit only the group's own pods, the front door and (the browser)
// the workspace group; a group that may reach nothing outside reaches only
// its own workspace's pods (and kube-dns in deny mode).
func TestNetworkPoliciesAdmitOnlyTheWorkspace(t *testing.T) {
	ws := createWorkspace(t, nil)
	ctx := t.Context()
	self := func(g string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"aileron.io/workspace-id": "w1", "aileron.io/firewall-group": g}}
	}
	frontDoor := networkingv1.NetworkPolicyPeer{
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/component": "api"}},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "aileron-system"}},
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		wp := netpol(c, ctx, ws, "workspace")
		requireOwned(c, ws, wp, "firewall")
		require.Equal(c, *self("workspace"), wp.Spec.PodSelector)
		require.Equal(c, []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: self("workspace")}, frontDoor}}}, wp.Spec.Ingress)
		require.Equal(c, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, wp.Spec.PolicyTypes, "an allowlist is the CiliumNetworkPolicy's to enforce")

		bp := netpol(c, ctx, ws, "browser")
		requireOwned(c, ws, bp, "firewall")
		require.Equal(c, []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
			{PodSelector: self("browser")}, frontDoor, {PodSelector: self("workspace")},
		}}}, bp.Spec.Ingress)
		// Deny mode: kube-dns only.
		require.Equal(c, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, bp.Spec.PolicyTypes)
		require.Len(c, bp.Spec.Egress, 1)
		require.Equal(c, map[string]string{"k8s-app": "kube-dns"}, bp.Spec.Egress[0].To[0].PodSelector.MatchLabels)
		require.Equal(c, "kube-system", bp.Spec.Egress[0].To[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName])
	}, waitFor, tick)

	update(t, ws, func(w *v1alpha1.Workspace) { w.Spec.Firewall.Workspace.NetworkAccessEnabled = false })
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		wp := netpol(c, ctx, ws, "workspace")
		require.Contains(c, wp.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		// Network access off: the workspace's own pods and the browser's
		// DevTools port, nothing else, not even DNS.
		require.Len(c, wp.Spec.Egress, 2)
		for _, r := range wp.Spec.Egress {
			require.Len(c, r.To, 1)
			require.Nil(c, r.To[0].NamespaceSelector, "egress rule %v leaves the namespace", r)
			require.Equal(c, "w1", r.To[0].PodSelector.MatchLabels["aileron.io/workspace-id"], "egress rule %v", r)
		}
		require.Equal(c, self("browser"), wp.Spec.Egress[1].To[0].PodSelector)
		require.Equal(c, int32(9222), wp.Spec.Egress[1].Ports[0].Port.IntVal)
	}, waitFor, tick)
}
