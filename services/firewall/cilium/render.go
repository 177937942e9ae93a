// Package cilium renders an effective firewall policy as a cilium.io/v2
// CiliumNetworkPolicy. It is a pure function over plain maps so the workspace
// operator can wrap the result in unstructured.Unstructured without this
// module importing Cilium or Kubernetes.
//
// At ingress every policy sets enableDefaultDeny.ingress and admits only the
// other pods of the same workspace group (runtime and terminal share a pod;
// canvas talks to them) and the Peers of Input.IngressFrom: the API's pods,
// whose front door is the one way into a workspace, and for the browser the
// runtime, whose agent drives it. At egress, Input.EgressTo are the pods of
// the same workspace a group may connect to, in every mode. Another workspace, or any
// other pod of the cluster, reaches none of its ports. The node (the "host"
// entity) is admitted too: kubelet probes come from it.
//
// What each policy allows at egress:
//
//   - network access disabled: nothing, not even DNS;
//   - allowlist: DNS to kube-dns (through Cilium's DNS proxy, which learns the
//     names) for the effective domains and cluster-local names only, and TCP
//     443/80 to the effective domains via toFQDNs;
//   - deny: DNS to kube-dns for cluster-local names only, so in-cluster names
//     still resolve but no external name does;
//   - unrestricted: DNS to kube-dns for any name and the "world" entity on
//     any port.
//
// The DNS rules name what may be asked, not only where: kube-dns resolves
// outside names recursively, so a rule admitting every name would let a
// workspace tunnel data through DNS queries past deny and allowlist.
// Cluster-local names (the cluster domain and everything under it) stay
// askable: the resolver's search list expands every lookup into them first.
//
// Every policy sets enableDefaultDeny.egress (Cilium 1.15+) and always has at
// least one egress rule, which also puts older Cilium versions into egress
// default-deny. Allowlist and unrestricted policies add an egressDeny rule for
// the private, link-local, metadata and other non-public ranges
// (policy.BlockedPrefixes by default), matching the egress gateway, which
// refuses names that resolve there. CIDR rules select only destinations
// outside the cluster, so the deny does not cut kube-dns.
//
// "*.example.com" entries are rendered as matchPattern "**.example.com":
// Cilium 1.19+ reads a leading "**." as any depth of subdomains (the meaning
// of the entry); older versions read it as one label, which is narrower,
// never wider. A bare "*" toFQDNs pattern is never rendered.
package cilium

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"aileron.dev/services/firewall/policy"
)

// DNSConfig says where the cluster DNS service runs.
type DNSConfig struct {
	// Namespace of the DNS pods; "kube-system" when empty.
	Namespace string
	// Labels of the DNS pods; {"k8s-app": "kube-dns"} when empty.
	Labels map[string]string
	// ClusterDomain is the cluster's DNS domain; "cluster.local" when empty.
	ClusterDomain string
}

// Input is everything Render needs for one workspace group.
type Input struct {
	// Name of the CiliumNetworkPolicy object.
	Name string
	// Namespace of the object and of the workspace pods.
	Namespace string
	// Labels are set as the object's metadata.labels (ownership labels).
	Labels map[string]string
	// PodSelector selects the pods of the group (spec.endpointSelector.matchLabels).
	PodSelector map[string]string
	// Policy is the effective policy to render.
	Policy policy.Effective
	// DNS locates kube-dns.
	DNS DNSConfig
	// PrivateCIDRs are denied in allowlist and unrestricted mode;
	// policy.BlockedPrefixes when nil.
	PrivateCIDRs []string
	// IngressFrom are the pods besides the group's own that may connect to
	// the group's pods; none admits only the group's own.
	IngressFrom []Peer
	// EgressTo are the pods of the same workspace the group's pods may
	// connect to (the canvas to the runtime, the runtime's agent to the
	// browser's DevTools), in every mode, network access disabled included:
	// that traffic never leaves the workspace.
	EgressTo []Peer
}

// Peer selects pods by namespace and labels.
type Peer struct {
	// Namespace of the pods; the policy's own when empty.
	Namespace string
	// Labels the pods carry (all of them).
	Labels map[string]string
	// Ports limits an EgressTo peer to these TCP ports; none allows any.
	Ports []string
}

// Render returns the CiliumNetworkPolicy for in as a JSON-compatible object
// (only map[string]any, []any, string and bool values). The output is a pure
// function of in: the same input always renders the same object.
func Render(in Input) map[string]any {
	spec := map[string]any{
		"endpointSelector":  map[string]any{"matchLabels": stringMap(in.PodSelector)},
		"enableDefaultDeny": map[string]any{"egress": true, "ingress": true},
		"description":       description(in.Policy),
		"ingress":           ingressRules(in),
	}
	egress, deny := egressRules(in)
	spec["egress"] = egress
	if deny != nil {
		spec["egressDeny"] = deny
	}
	metadata := map[string]any{"name": in.Name, "namespace": in.Namespace}
	if len(in.Labels) > 0 {
		metadata["labels"] = stringMap(in.Labels)
	}
	return map[string]any{
		"apiVersion": "cilium.io/v2",
		"kind":       "CiliumNetworkPolicy",
		"metadata":   metadata,
		"spec":       spec,
	}
}

func description(e policy.Effective) string {
	state := string(e.Mode)
	if !e.NetworkAccessEnabled {
		state = "network access disabled"
	}
	return "aileron firewall, " + string(e.Group) + " group: " + state
}

// egressRules returns the allow rules and the deny rules (nil for none).
func egressRules(in Input) (allow []any, deny []any) {
	e := in.Policy
	peers := peerRules(in.EgressTo)
	if !e.NetworkAccessEnabled {
		if len(peers) > 0 {
			return peers, nil
		}
		// An empty rule allows nothing but still selects egress default-deny.
		return []any{map[string]any{}}, nil
	}
	allow = append([]any{dnsRule(in.DNS, dnsNames(in.DNS, e))}, peers...)
	switch e.Mode {
	case policy.ModeAllowlist:
		if fqdns := fqdnSelectors(e.AllowedDomains); len(fqdns) > 0 {
			// Never emit toPorts without toFQDNs: that would allow any destination.
			// toFQDNs admits addresses, and a CDN serves many sites from one
			// address: every connection must also name an allowed site, in
			// its TLS SNI on 443 and its Host header on 80 (Cilium's proxy
			// checks both), so `curl --resolve other.site:443:<allowed IP>`
			// is refused.
			allow = append(allow, map[string]any{
				"toFQDNs": fqdns,
				"toPorts": []any{
					map[string]any{"ports": portList([]string{"443"}, "TCP"), "serverNames": serverNames(e.AllowedDomains)},
					map[string]any{"ports": portList([]string{"80"}, "TCP"), "rules": map[string]any{"http": hostRules(e.AllowedDomains)}},
				},
			})
		}
		return allow, denyRules(in.PrivateCIDRs)
	case policy.ModeUnrestricted:
		allow = append(allow, map[string]any{"toEntities": []any{"world"}})
		return allow, denyRules(in.PrivateCIDRs)
	}
	// ModeDeny and anything unknown: DNS only.
	return allow, nil
}

// ingressRules admits the group's own pods and the peers, on any port.
func ingressRules(in Input) []any {
	from := []any{map[string]any{"matchLabels": stringMap(in.PodSelector)}}
	for _, p := range in.IngressFrom {
		if len(p.Labels) == 0 {
			continue // an empty selector would admit every pod of the namespace
		}
		sel := stringMap(p.Labels)
		if p.Namespace != "" {
			sel[namespaceLabel] = p.Namespace
		}
		from = append(from, map[string]any{"matchLabels": sel})
	}
	return []any{map[string]any{"fromEndpoints": from}, map[string]any{"fromEntities": []any{"host"}}}
}

// peerRules admits connections to the peers' pods, on their ports.
func peerRules(peers []Peer) []any {
	var out []any
	for _, p := range peers {
		if len(p.Labels) == 0 {
			continue // an empty selector would admit every pod of the namespace
		}
		sel := stringMap(p.Labels)
		if p.Namespace != "" {
			sel[namespaceLabel] = p.Namespace
		}
		rule := map[string]any{"toEndpoints": []any{map[string]any{"matchLabels": sel}}}
		if len(p.Ports) > 0 {
			rule["toPorts"] = []any{map[string]any{"ports": portList(p.Ports, "TCP")}}
		}
		out = append(out, rule)
	}
	return out
}

// namespaceLabel is the label Cilium gives every endpoint with its pod's namespace.
const namespaceLabel = "io.kubernetes.pod.namespace"

// dnsNames are the names a group may ask kube-dns about: any in
// unrestricted mode; else the cluster-local names, plus the effective domains
// in allowlist mode.
func dnsNames(c DNSConfig, e policy.Effective) []any {
	if e.Mode == policy.ModeUnrestricted {
		return []any{map[string]any{"matchPattern": "*"}}
	}
	domain := cmp.Or(c.ClusterDomain, "cluster.local")
	names := []any{map[string]any{"matchName": domain}, map[string]any{"matchPattern": "**." + domain}}
	if e.Mode == policy.ModeAllowlist {
		names = append(names, fqdnSelectors(e.AllowedDomains)...)
	}
	return names
}

func dnsRule(c DNSConfig, names []any) map[string]any {
	ns := cmp.Or(c.Namespace, "kube-system")
	labels := c.Labels
	if len(labels) == 0 {
		labels = map[string]string{"k8s-app": "kube-dns"}
	}
	sel := stringMap(labels)
	sel[namespaceLabel] = ns
	return map[string]any{
		"toEndpoints": []any{map[string]any{"matchLabels": sel}},
		"toPorts": []any{map[string]any{
			"ports": append(portList([]string{"53"}, "UDP"), portList([]string{"53"}, "TCP")...),
			// The DNS proxy sees every query (toFQDNs learns the addresses
			// from the answers) and refuses names outside the list.
			"rules": map[string]any{"dns": names},
		}},
	}
}

// allowed is one allowlisted name: a host, or with wildcard every name
// under base at any depth ("*.x" in the policy), never base itself.
type allowed struct {
	base     string
	wildcard bool
}

// allowedNames reads the allowlist in a stable order, skipping what
// Effective never holds (defence in depth): empty, "*" and "**" names.
func allowedNames(domains []string) []allowed {
	sorted := slices.Clone(domains)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	out := make([]allowed, 0, len(sorted))
	for _, d := range sorted {
		if d == "" || d == "*" || strings.HasPrefix(d, "**") {
			continue
		}
		if base, ok := strings.CutPrefix(d, "*."); ok {
			out = append(out, allowed{base: base, wildcard: true})
			continue
		}
		out = append(out, allowed{base: d})
	}
	return out
}

// fqdnSelectors are the toFQDNs (and DNS rule) selectors of the allowlist.
func fqdnSelectors(domains []string) []any {
	var out []any
	for _, a := range allowedNames(domains) {
		if a.wildcard {
			out = append(out, map[string]any{"matchPattern": "**." + a.base})
		} else {
			out = append(out, map[string]any{"matchName": a.base})
		}
	}
	return out
}

// serverNames are the TLS SNI values allowed on 443 ("**." is Cilium's
// any-depth subdomain prefix).
func serverNames(domains []string) []any {
	var out []any
	for _, a := range allowedNames(domains) {
		if a.wildcard {
			out = append(out, "**."+a.base)
		} else {
			out = append(out, a.base)
		}
	}
	return out
}

// hostRules are the HTTP rules allowed on 80: the Host header (with an
// optional port) must be an allowed name.
func hostRules(domains []string) []any {
	var out []any
	for _, a := range allowedNames(domains) {
		prefix := "^"
		if a.wildcard {
			prefix = `^([-a-z0-9_]+\.)+`
		}
		out = append(out, map[string]any{"host": prefix + regexp.QuoteMeta(a.base) + "(:[0-9]+)?$"})
	}
	return out
}

func denyRules(cidrs []string) []any {
	if cidrs == nil {
		for _, p := range policy.BlockedPrefixes() {
			cidrs = append(cidrs, p.String())
		}
	}
	if len(cidrs) == 0 {
		return nil
	}
	set := make([]any, 0, len(cidrs))
	for _, c := range cidrs {
		set = append(set, map[string]any{"cidr": c})
	}
	return []any{map[string]any{"toCIDRSet": set}}
}

func portList(ports []string, protocol string) []any {
	out := make([]any, 0, len(ports))
	for _, p := range ports {
		out = append(out, map[string]any{"port": p, "protocol": protocol})
	}
	return out
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
