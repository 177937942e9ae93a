package provisioner

import (
	"net/netip"
	"slices"
	"testing"

	"aileron.dev/pkg/workspace"
)

// The gateway is told to refuse the host's own public addresses.
func TestGatewayArgsDenyHostAddresses(t *testing.T) {
	p := &Provisioner{cfg: DefaultConfig(), hostAddrs: []netip.Addr{netip.MustParseAddr("8.8.4.4")}}
	nets := networks{
		ws: netInfo{Subnet: netip.MustParsePrefix("10.213.0.0/28")},
		br: netInfo{Subnet: netip.MustParsePrefix("10.213.0.16/28")},
	}
	args := p.gatewayArgs("abc", nets, map[workspace.Service]bool{workspace.ServiceRuntime: true})
	i := slices.Index(args, "--deny-cidr")
	if i < 0 || args[i+1] != "8.8.4.4" {
		t.Fatalf("gateway args lack --deny-cidr 8.8.4.4: %q", args)
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
