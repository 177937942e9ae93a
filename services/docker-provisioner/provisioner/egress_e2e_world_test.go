package provisioner_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/docker-provisioner/provisioner"
	"aileron.dev/services/firewall/firewall"
	"aileron.dev/services/firewall/policy"
)

// Names the fake internet answers, all under e2eDomain (the reserved .test
// TLD, so nothing real is ever asked).
const (
	e2eDomain       = "e2e.test"
	hostAllowed     = "allowed." + e2eDomain         // on the workspace's own list
	hostDefault     = "default." + e2eDomain         // a system default of the workspace group
	hostDenied      = "denied." + e2eDomain          // on no list, resolves to the fake internet
	hostBrowserOnly = "browser-only." + e2eDomain    // on the browser's own list
	hostBrowserDef  = "browser-default." + e2eDomain // a system default of the browser group
	hostCNAMEPublic = "cname-public." + e2eDomain    // CNAME to hostAllowed
	hostPrivate10   = "private10." + e2eDomain       // A: the intranet listener (10.x)
	hostPrivate172  = "private172." + e2eDomain      // A: 172.16.0.10
	hostMetadata    = "metadata." + e2eDomain        // A: 169.254.169.254
	hostCNAMEPriv   = "cname-private." + e2eDomain   // CNAME to hostPrivate10
	hostMixed       = "mixed." + e2eDomain           // A: the fake internet and the intranet
	hostMapped      = "mapped." + e2eDomain          // AAAA: ::ffff:<intranet>
	hostULA         = "ula." + e2eDomain             // AAAA: fd00:ec2::254 (AWS's IPv6 metadata)
	hostRebind      = "rebind." + e2eDomain          // A alternates fake internet / intranet, TTL 0
)

// privateHosts resolve (only) to addresses the gateway must never dial.
var privateHosts = []string{hostPrivate10, hostPrivate172, hostMetadata, hostCNAMEPriv, hostMixed, hostMapped, hostULA}

// workspaceList is the workspace's own allowlist: the private names are on
// it so that only the address check can refuse them.
var workspaceList = append([]string{hostAllowed, hostCNAMEPublic, hostRebind}, privateHosts...)

// fakeNetSubnets are where the fake internet lives. The gateway refuses
// every non-public answer and has no switch to allow one range, so the fake
// internet gets a globally routable range that no test machine talks to:
// AMT relay anycast (RFC 7450), AS112 (RFC 7535) and AS112 direct delegation
// (RFC 7534). Only this machine routes it, only while the test runs, to a
// bridge the test owns. AILERON_E2E_FAKENET_SUBNET picks another /24.
var fakeNetSubnets = []string{"192.52.193.0/24", "192.31.196.0/24", "192.175.48.0/24"}

// egressWorld is a running workspace behind its gateway, a fake internet
// that is its only reachable outside, and a private listener next to it.
type egressWorld struct {
	h  *harness
	ws *workspacev1.Workspace
	ca *testCA
	// rt and br are the runtime's and chrome's endpoints (stubs).
	rt, br string
	// started identifies the workspace's containers and their start times.
	started map[string]string
	// fake internet: container name and address (its DNS server is on :53).
	fakeName string
	fakeIP   netip.Addr
	// intranet: a listener on the workspace's internal network at a private
	// address the gateway can reach; nothing may ever get there through it.
	intranetName string
	intranetIP   netip.Addr
	// gateway addresses on the two internal networks and the outside one,
	// and the addresses of runtime and chrome.
	wsGateway, brGateway, outsideGateway, runtimeIP, chromeIP netip.Addr
}

// startEgressWorld builds it all: the test's outside network (ICC on, so the
// gateway reaches the fake internet on it; the production one has ICC off),
// the firewall service with test defaults, the provisioner with the gateway
// resolving through the fake internet's DNS, a workspace with an allowlist
// per group, then the intranet and the fake internet.
func startEgressWorld(t *testing.T, tweaks ...func(*provisioner.Config)) *egressWorld {
	t.Helper()
	ctx := context.Background()
	buildFakeNetImage(t)
	h := newHarness(t, func(c *provisioner.Config) {
		for _, tweak := range tweaks {
			tweak(c)
		}
	}, nil)
	e := &egressWorld{h: h, ca: newTestCA(t)}
	outside := "aileron-e2e-out-" + h.cfg.Instance
	sub := createFakeNetNetwork(t, outside, h.cfg.Instance)
	e.fakeIP = nthAddr(sub, 10)
	require.True(t, policy.PublicAddr(e.fakeIP), "the fake internet must count as public for the gateway")
	e.fakeName = "aileron-e2e-fakenet-" + h.cfg.Instance
	e.intranetName = "aileron-e2e-intranet-" + h.cfg.Instance
	h.cfg.OutsideNetwork = outside
	h.cfg.Gateway.UpstreamDNS = e.fakeIP.String() + ":53"

	startFirewallService(t, h, policy.Defaults{Workspace: []string{hostDefault}, Browser: []string{hostBrowserDef}})
	h.startProvisioner()
	on := true
	resp, err := h.api.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{
		Name: "egress-e2e", Provisioner: "docker",
		WorkspaceFirewallNetworkAccessEnabled: &on, WorkspaceFirewallDomainAccessMode: "allowlist",
		WorkspaceFirewallAllowedDomains:     workspaceList,
		BrowserFirewallNetworkAccessEnabled: &on, BrowserFirewallDomainAccessMode: "allowlist",
		BrowserFirewallAllowedDomains: []string{hostBrowserOnly},
	})
	require.NoError(t, err)
	e.ws = h.waitState(resp.Workspace.Id, "running")
	e.waitFirewallApplied(t)

	wsName := provisioner.NetworkName("workspace", e.ws.Id)
	wsNet, brNet := internalSubnet(t, wsName), internalSubnet(t, provisioner.NetworkName("browser", e.ws.Id))
	e.wsGateway, e.brGateway = nthAddr(wsNet, 2), nthAddr(brNet, 2)
	e.runtimeIP, e.chromeIP = nthAddr(wsNet, 3), nthAddr(brNet, 3)
	e.intranetIP = nthAddr(wsNet, 13)
	gw, err := docker.ContainerInspect(ctx, provisioner.GatewayName(e.ws.Id))
	require.NoError(t, err)
	e.outsideGateway, err = netip.ParseAddr(gw.NetworkSettings.Networks[outside].IPAddress)
	require.NoError(t, err)
	require.True(t, wsNet.Contains(e.intranetIP) && e.intranetIP.IsPrivate(), "intranet %s must be a private address in %s", e.intranetIP, wsNet)

	cert, key := e.ca.leaf(t, "*."+e2eDomain, e2eDomain)
	startFakeServer(t, fakeServer{name: e.intranetName, network: wsName, ip: e.intranetIP,
		instance: h.cfg.Instance, cert: cert, key: key})
	startFakeServer(t, fakeServer{name: e.fakeName, network: outside, ip: e.fakeIP,
		instance: h.cfg.Instance, cert: cert, key: key, dns: e.records()})
	e.rt, e.br = e.ws.Services.Runtime.Endpoint, e.ws.Services.Browser.Endpoint
	e.started = e.containerStarts(t)
	return e
}

// records is the fake internet's DNS zone.
func (e *egressWorld) records() map[string]dnsRecord {
	pub, priv := []netip.Addr{e.fakeIP}, []netip.Addr{e.intranetIP}
	return map[string]dnsRecord{
		hostAllowed: {A: pub}, hostDefault: {A: pub}, hostDenied: {A: pub},
		hostBrowserOnly: {A: pub}, hostBrowserDef: {A: pub},
		hostCNAMEPublic: {CNAME: hostAllowed},
		hostPrivate10:   {A: priv},
		hostPrivate172:  {A: []netip.Addr{netip.MustParseAddr("172.16.0.10")}},
		hostMetadata:    {A: []netip.Addr{netip.MustParseAddr("169.254.169.254")}},
		hostCNAMEPriv:   {CNAME: hostPrivate10},
		hostMixed:       {A: []netip.Addr{e.fakeIP, e.intranetIP}},
		hostMapped:      {AAAA: []netip.Addr{netip.AddrFrom16(e.intranetIP.As16())}},
		hostULA:         {AAAA: []netip.Addr{netip.MustParseAddr("fd00:ec2::254")}},
		hostRebind:      {Rotate: [][]netip.Addr{pub, priv}},
	}
}

// createFakeNetNetwork creates the test's outside network on the first free
// candidate subnet, dynamic addresses from its upper half (the gateway's).
// Its labels make the harness's cleanup remove it after the containers.
func createFakeNetNetwork(t *testing.T, name, instance string) netip.Prefix {
	t.Helper()
	candidates := fakeNetSubnets
	if s := os.Getenv("AILERON_E2E_FAKENET_SUBNET"); s != "" {
		candidates = []string{s}
	}
	for _, c := range candidates {
		sub := netip.MustParsePrefix(c)
		require.Equal(t, 24, sub.Bits(), "fake internet subnet %s: want a /24", c)
		_, err := docker.NetworkCreate(context.Background(), name, network.CreateOptions{
			Driver: "bridge",
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet: sub.String(), IPRange: netip.PrefixFrom(nthAddr(sub, 128), 25).String(), Gateway: nthAddr(sub, 1).String(),
			}}},
			Labels: map[string]string{
				provisioner.LabelManagedBy: provisioner.ManagedBy, provisioner.LabelInstance: instance,
				provisioner.LabelService: "e2e-outside",
			},
		})
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "overlap") {
			continue
		}
		require.NoError(t, err)
		return sub
	}
	t.Fatalf("every fake internet subnet %v overlaps a network on this engine", candidates)
	return netip.Prefix{}
}

// startFirewallService runs the real firewall service (effective policies
// from settings and defaults) on the harness's NATS until the test ends.
func startFirewallService(t *testing.T, h *harness, d policy.Defaults) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	fw, err := firewall.New(ctx, firewall.Config{Defaults: d}, h.api.JS, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { _ = fw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// internalSubnet returns the subnet of a workspace network.
func internalSubnet(t *testing.T, name string) netip.Prefix {
	t.Helper()
	n, err := docker.NetworkInspect(context.Background(), name, network.InspectOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, n.IPAM.Config, "network %s has no subnet", name)
	return netip.MustParsePrefix(n.IPAM.Config[0].Subnet)
}

// nthAddr is the n-th address of a subnet.
func nthAddr(p netip.Prefix, n int) netip.Addr {
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a
}

// waitFirewallApplied waits until the provisioner reports the current
// firewall revision enforced.
func (e *egressWorld) waitFirewallApplied(t *testing.T) *workspacev1.FirewallStatus {
	t.Helper()
	var fs *workspacev1.FirewallStatus
	require.Eventually(t, func() bool {
		fs = e.h.get(e.ws.Id).GetFirewallStatus()
		return fs.GetPhase() == "applied" && fs.GetObservedRevision() == fs.GetRevision()
	}, waitFor, tick, "firewall never applied: %v", fs)
	return fs
}
