package provisioner

import (
	"net/netip"
	"slices"
	"testing"

	"aileron.dev/pkg/workspace"
)

// The gateway is told to refuse the host's own public addresses and the
// configured ones (a 1:1-NAT address the host does not hold).
func TestGatewayArgsDenyHostAddresses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Gateway.DenyCIDRs = []string{"203.0.113.7", "198.51.100.9/24"}
	p := &Provisioner{cfg: cfg, hostAddrs: []netip.Addr{netip.MustParseAddr("8.8.4.4")}}
	nets := networks{
		ws: netInfo{Subnet: netip.MustParsePrefix("10.213.0.0/28")},
		br: netInfo{Subnet: netip.MustParsePrefix("10.213.0.16/28")},
	}
	args := p.gatewayArgs("abc", nets, map[workspace.Service]bool{workspace.ServiceRuntime: true})
	i := slices.Index(args, "--deny-cidr")
	if i < 0 || args[i+1] != "8.8.4.4" {
		t.Fatalf("gateway args lack --deny-cidr 8.8.4.4: %q", args)
	}
	for _, want := range []string{"203.0.113.7/32", "198.51.100.0/24"} {
		if j := slices.Index(args, want); j < 1 || args[j-1] != "--deny-cidr" {
			t.Fatalf("gateway args lack --deny-cidr %s: %q", want, args)
		}
	}
	if got := publicHostAddrs(false); got != nil {
		t.Fatalf("disabled: got %v", got)
	}
	for _, a := range publicHostAddrs(true) {
		if a.IsPrivate() || a.IsLoopback() {
			t.Fatalf("%s is not a public host address", a)
		}
	}
}
