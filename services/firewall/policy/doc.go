// Package policy is the one place that decides what a workspace firewall
// allows. The API validates settings with it, the workspace operator renders
// Cilium policies from its Effective result, and the Docker egress gateway
// matches every outbound request against the same Effective value, so the
// three can never disagree about what an entry means.
//
// Domain entries are host names: "example.com" matches exactly that name,
// "*.example.com" matches any name below it (at any depth) but never the apex.
// Everything else — IP literals, CIDRs, URLs, ports, paths, other wildcards —
// is rejected with an *Error naming the field and the entry.
package policy
