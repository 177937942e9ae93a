package controller

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"aileron.dev/services/firewall/cilium"
	"aileron.dev/services/firewall/policy"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// ensureNetworkPolicy writes the Kubernetes NetworkPolicy of group eff.Group,
// which any CNI that enforces NetworkPolicy applies (Cilium among them,
// where it adds nothing to the group's CiliumNetworkPolicy):
//   - ingress: only the group's own pods and its peers (peersOf), as in the
//     CiliumNetworkPolicy. Without it, every pod of the cluster could call
//     the workspace daemons, which trust the front door to authenticate.
//   - egress, when the group may reach nothing outside (network access
//     disabled, deny mode, or settings that failed closed): only the
//     workspace's own pods, and kube-dns in deny mode. A domain allowlist
//     cannot be said in a NetworkPolicy, so those modes leave egress to
//     the CiliumNetworkPolicy.
func (r *WorkspaceReconciler) ensureNetworkPolicy(ctx context.Context, ws *v1alpha1.Workspace, eff policy.Effective) error {
	ingressFrom, egressTo := r.peersOf(ws, eff.Group)
	self := metav1.LabelSelector{MatchLabels: groupPods(ws, eff.Group)}
	spec := networkingv1.NetworkPolicySpec{
		PodSelector: self,
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: append([]networkingv1.NetworkPolicyPeer{{PodSelector: &self}}, netpolPeers(ingressFrom)...),
		}},
	}
	if !eff.NetworkAccessEnabled || eff.Mode != policy.ModeAllowlist && eff.Mode != policy.ModeUnrestricted {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		spec.Egress = []networkingv1.NetworkPolicyEgressRule{}
		for _, p := range egressTo {
			if len(p.Labels) == 0 {
				continue
			}
			spec.Egress = append(spec.Egress, networkingv1.NetworkPolicyEgressRule{To: netpolPeers([]cilium.Peer{p}), Ports: tcpPorts(p.Ports)})
		}
		if eff.NetworkAccessEnabled && len(r.cfg.DNS.Labels) > 0 {
			dns := cilium.Peer{Namespace: r.cfg.DNS.Namespace, Labels: r.cfg.DNS.Labels}
			udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
			port := intstr.FromInt32(53)
			spec.Egress = append(spec.Egress, networkingv1.NetworkPolicyEgressRule{
				To:    netpolPeers([]cilium.Peer{dns}),
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port}, {Protocol: &tcp, Port: &port}},
			})
		}
	}
	desired := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: policyName(ws, eff.Group), Namespace: ws.Namespace, Labels: policyLabels(ws, eff.Group)},
		Spec:       spec,
	}
	_, err := ensure(ctx, r, ws, desired, &networkingv1.NetworkPolicy{}, func(s, d *networkingv1.NetworkPolicy) {
		s.Spec = d.Spec
	})
	return err
}

// netpolPeers are peers as NetworkPolicy peers; one without labels is left
// out (an empty selector would admit every pod of the namespace).
func netpolPeers(peers []cilium.Peer) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, p := range peers {
		if len(p.Labels) == 0 {
			continue
		}
		np := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: p.Labels}}
		if p.Namespace != "" {
			np.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: p.Namespace}}
		}
		out = append(out, np)
	}
	return out
}

// tcpPorts are ports as NetworkPolicy TCP ports; none allows any port.
func tcpPorts(ports []string) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, p := range ports {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			continue // peersOf gives numbers
		}
		tcp := corev1.ProtocolTCP
		port := intstr.FromInt32(int32(n))
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &port})
	}
	return out
}
