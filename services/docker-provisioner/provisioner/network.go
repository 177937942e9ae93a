package provisioner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
)

// netInfo is one internal network of a workspace.
type netInfo struct {
	Name   string
	ID     string
	Subnet netip.Prefix
}

// gatewayIP returns the gateway's static address on the network.
func (n netInfo) gatewayIP() netip.Addr { return n.host(gatewayOffset) }

// serviceIP returns the static address of a service on its group's network.
func (n netInfo) serviceIP(service workspace.Service) netip.Addr {
	return n.host(serviceOffset[service])
}

// host returns the address offset hosts after the subnet's.
func (n netInfo) host(offset int) netip.Addr {
	a := n.Subnet.Addr()
	for range offset {
		a = a.Next()
	}
	return a
}

// networks are a workspace's two internal networks.
type networks struct {
	ws, br netInfo
}

func (ns networks) of(group policy.Group) netInfo {
	if group == policy.GroupBrowser {
		return ns.br
	}
	return ns.ws
}

// ensureOutsideNetwork creates the shared bridge every gateway uses to reach
// out. It is labelled as ours but belongs to no workspace or instance, so the
// sweep never removes it. Gateways on it cannot talk to each other (no ICC).
func (p *Provisioner) ensureOutsideNetwork(ctx context.Context) error {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	if _, err := p.docker.NetworkInspect(cctx, p.cfg.OutsideNetwork, network.InspectOptions{}); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect network %s: %w", p.cfg.OutsideNetwork, err)
	}
	_, err := p.docker.NetworkCreate(cctx, p.cfg.OutsideNetwork, network.CreateOptions{
		Driver:  "bridge",
		Options: map[string]string{"com.docker.network.bridge.enable_icc": "false"},
		Labels:  map[string]string{LabelManagedBy: ManagedBy, LabelRole: string(roleOutside)},
	})
	if err != nil && !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create network %s: %w", p.cfg.OutsideNetwork, err)
	}
	return nil
}

// ensureNetworks creates or adopts both internal networks of workspace id,
// concurrently. One list (the engine's name filter matches substrings)
// finds both.
func (p *Provisioner) ensureNetworks(ctx context.Context, id string) (networks, error) {
	found, err := p.listNetworks(ctx, filters.NewArgs(filters.Arg("name", id)))
	if err != nil {
		return networks{}, err
	}
	var ns networks
	var wsErr error
	var wg sync.WaitGroup
	wg.Go(func() { ns.ws, wsErr = p.ensureNetwork(ctx, id, policy.GroupWorkspace, found) })
	var brErr error
	ns.br, brErr = p.ensureNetwork(ctx, id, policy.GroupBrowser, found)
	wg.Wait()
	return ns, errors.Join(wsErr, brErr)
}

// ensureNetwork returns the internal network of a group, creating it with a
// free subnet of the pool when missing. Duplicates (a create the engine
// finished after its client timed out, then created again) are removed,
// keeping the oldest, so every reconcile keeps the same one.
func (p *Provisioner) ensureNetwork(ctx context.Context, id string, group policy.Group, found []network.Summary) (netInfo, error) {
	name := NetworkName(group, id)
	var mine []network.Summary
	for _, n := range found {
		if n.Name == name {
			if !p.owned(n.Labels, id) {
				return netInfo{}, fmt.Errorf("network %s: %w", name, errNotOwned)
			}
			mine = append(mine, n)
		}
	}
	if len(mine) > 0 {
		slices.SortFunc(mine, func(a, b network.Summary) int {
			return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
		})
		for _, dup := range mine[1:] {
			if err := p.removeNetwork(ctx, dup.ID); err != nil {
				p.log.Warn("duplicate network removal failed", "workspace_id", id, "network", name, "err", err)
			}
		}
		return toNetInfo(mine[0])
	}
	return p.createNetwork(ctx, id, group)
}

func toNetInfo(n network.Summary) (netInfo, error) {
	if len(n.IPAM.Config) == 0 {
		return netInfo{}, fmt.Errorf("network %s has no subnet", n.Name)
	}
	pfx, err := netip.ParsePrefix(n.IPAM.Config[0].Subnet)
	if err != nil {
		return netInfo{}, fmt.Errorf("network %s subnet: %w", n.Name, err)
	}
	return netInfo{Name: n.Name, ID: n.ID, Subnet: pfx}, nil
}

// createNetwork picks subnets from the pool, starting at a point derived from
// the name so retries tend to pick the same one, skipping subnets in use or
// reserved by a concurrent create of this process, and moving on when the
// engine reports an overlap (another process took it). Creates of different
// workspaces run in parallel; only the pick is serialised.
func (p *Provisioner) createNetwork(ctx context.Context, id string, group policy.Group) (netInfo, error) {
	name := NetworkName(group, id)
	used, err := p.usedSubnets(ctx)
	if err != nil {
		return netInfo{}, err
	}
	pool := netip.MustParsePrefix(p.cfg.SubnetPool)
	count := 1 << (p.cfg.SubnetBits - pool.Bits())
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	start := int(h.Sum32() % uint32(count))
	for i := range count {
		sub := nthSubnet(pool, p.cfg.SubnetBits, (start+i)%count)
		if overlapsAny(sub, used) || !p.reserve(sub) {
			continue
		}
		info, err := p.createNetworkWith(ctx, id, group, sub)
		p.release(sub)
		if err == nil {
			return info, nil
		}
		if !isOverlap(err) {
			return netInfo{}, err
		}
		used = append(used, sub)
	}
	return netInfo{}, fmt.Errorf("create network %s: subnet pool %s exhausted", name, p.cfg.SubnetPool)
}

// reserve claims sub for one create in this process; false if taken.
func (p *Provisioner) reserve(sub netip.Prefix) bool {
	p.netMu.Lock()
	defer p.netMu.Unlock()
	if p.reserved[sub] {
		return false
	}
	p.reserved[sub] = true
	return true
}

func (p *Provisioner) release(sub netip.Prefix) {
	p.netMu.Lock()
	defer p.netMu.Unlock()
	delete(p.reserved, sub)
}

func (p *Provisioner) createNetworkWith(ctx context.Context, id string, group policy.Group, sub netip.Prefix) (netInfo, error) {
	name := NetworkName(group, id)
	r := roleNetWS
	if group == policy.GroupBrowser {
		r = roleNetBR
	}
	// A create the client gives up on is still carried out by the engine,
	// and the retry then makes a second network of the same name, which
	// the engine refuses to start containers on ("ambiguous"). Creating a
	// bridge takes the engine's iptables lock, slow on a busy host: wait
	// longer than for other calls rather than race it.
	cctx, cancel := context.WithTimeout(ctx, networkCreateTimeoutFactor*time.Duration(p.cfg.DockerTimeout))
	defer cancel()
	resp, err := p.docker.NetworkCreate(cctx, name, network.CreateOptions{
		Driver:   "bridge",
		Internal: true,
		IPAM:     &network.IPAM{Config: []network.IPAMConfig{{Subnet: sub.String(), Gateway: sub.Addr().Next().String()}}},
		// No host address on the bridge: an internal network otherwise lets
		// every workspace reach host services that listen on all interfaces.
		Options: map[string]string{"com.docker.network.bridge.inhibit_ipv4": "true"},
		Labels:  p.roleLabels(id, r),
	})
	if err != nil {
		return netInfo{}, fmt.Errorf("create network %s: %w", name, err)
	}
	p.log.Debug("network created", "workspace_id", id, "network", name, "subnet", sub)
	return netInfo{Name: name, ID: resp.ID, Subnet: sub}, nil
}

// networkCreateTimeoutFactor stretches docker_timeout for a network create.
const networkCreateTimeoutFactor = 4

// usedSubnets lists every IPv4 subnet of every network on the engine.
func (p *Provisioner) usedSubnets(ctx context.Context) ([]netip.Prefix, error) {
	all, err := p.listNetworks(ctx, filters.NewArgs())
	if err != nil {
		return nil, err
	}
	var used []netip.Prefix
	for _, n := range all {
		for _, c := range n.IPAM.Config {
			if pfx, err := netip.ParsePrefix(c.Subnet); err == nil && pfx.Addr().Is4() {
				used = append(used, pfx)
			}
		}
	}
	return used, nil
}

func (p *Provisioner) listNetworks(ctx context.Context, f filters.Args) ([]network.Summary, error) {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	ns, err := p.docker.NetworkList(cctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	return ns, nil
}

// removeNetwork removes a network; a missing one is not an error.
func (p *Provisioner) removeNetwork(ctx context.Context, idOrName string) error {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	if err := p.docker.NetworkRemove(cctx, idOrName); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove network %s: %w", idOrName, err)
	}
	return nil
}

func nthSubnet(pool netip.Prefix, bits, n int) netip.Prefix {
	base := pool.Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(n) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// isOverlap recognises the engine's "Pool overlaps with other one on this
// address space" refusal.
func isOverlap(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "overlaps")
}

// errNotOwned refuses to touch an object that carries our name but not our labels.
var errNotOwned = errors.New("exists but is not managed by this provisioner")
