// Package egress is the per-workspace egress gateway: an HTTP proxy that is
// the only way out of a workspace's internal Docker networks.
//
// Each listener serves one policy group, so a container of one group can
// never use the other group's policy. For every request the proxy
//
//   - accepts HTTP CONNECT (TLS only) and absolute-URI plain HTTP, to ports
//     443 and 80 only;
//   - refuses IP literals and matches the host with policy.Effective.Allows;
//   - resolves the name itself with its own Resolver and refuses the name if
//     any answer is not a public address (CNAMEs are followed, the final
//     A/AAAA answers are checked);
//   - dials exactly the address it checked, so DNS rebinding cannot switch
//     the destination between check and use;
//   - on CONNECT reads the TLS ClientHello and requires its SNI to equal the
//     CONNECT host before forwarding the original bytes; on plain HTTP
//     requires the Host header to equal the URL host.
//
// Refusals by policy answer 403 with an X-Aileron-Egress-Denied header naming
// the reason; every decision is logged. SetPolicies swaps the policy
// atomically: established tunnels are kept, new requests see the new policy.
package egress
