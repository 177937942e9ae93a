package provisioner

import (
	"net/netip"
	"slices"
	"testing"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
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

// The agent's route to the browser: the gateway relays DevTools from its
// workspace-network address to the browser, the runtime is told where, and
// the canvas where the runtime is.
func TestBrowserAndCanvasRoutes(t *testing.T) {
	p := &Provisioner{cfg: DefaultConfig()}
	nets := networks{
		ws: netInfo{Name: "aileron-ws-abc", Subnet: netip.MustParsePrefix("10.213.0.0/28")},
		br: netInfo{Name: "aileron-br-abc", Subnet: netip.MustParsePrefix("10.213.0.16/28")},
	}
	all := map[workspace.Service]bool{workspace.ServiceRuntime: true, workspace.ServiceTerminal: true, workspace.ServiceBrowser: true, workspace.ServiceCanvas: true}
	args := p.gatewayArgs("abc", nets, all)
	if i := slices.Index(args, "--cdp-relay"); i < 0 || args[i+1] != "10.213.0.2:9222=10.213.0.19:8080" {
		t.Fatalf("gateway args lack the DevTools relay from the workspace network to the browser: %q", args)
	}
	if slices.Contains(p.gatewayArgs("abc", nets, map[workspace.Service]bool{workspace.ServiceRuntime: true}), "--cdp-relay") {
		t.Fatal("a relay to a browser the workspace does not run")
	}
	w := &workspacev1.Workspace{Id: "abc"}
	env := p.serviceSpec(w, workspace.ServiceRuntime, nets, all).Config.Env
	if !slices.Contains(env, "AILERON_BROWSER_URL=http://gateway:9222") {
		t.Fatalf("runtime env lacks the browser's URL: %q", env)
	}
	if !slices.Contains(env, "AILERON_ACTIVITY_PEER=http://terminal:8080,http://gateway:9222") {
		t.Fatalf("runtime env lacks the terminal's and the browser's activity: %q", env)
	}
	if env := p.serviceSpec(w, workspace.ServiceCanvas, nets, all).Config.Env; !slices.Contains(env, "AILERON_RUNTIME_URL=http://runtime:8080") {
		t.Fatalf("canvas env lacks the runtime's URL: %q", env)
	}
	if spec := p.serviceSpec(w, workspace.ServiceCanvas, nets, all); len(spec.Host.Mounts) != 0 {
		t.Fatalf("the canvas mounts %v: it reads through the runtime", spec.Host.Mounts)
	}
	if shm := p.serviceSpec(w, workspace.ServiceBrowser, nets, all).Host.ShmSize; shm != 256<<20 {
		t.Fatalf("browser /dev/shm is %d bytes, want 256 MiB", shm)
	}
}
