package provisioner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"google.golang.org/protobuf/types/known/timestamppb"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
)

// dataMount is where the workspace volume is mounted in runtime and terminal.
const dataMount = workspace.DataMount

// gatewayConfigDir is where the gateway's policy volume is mounted.
const gatewayConfigDir = "/etc/aileron/egress"

// policyFile is the gateway's policy file inside gatewayConfigDir.
const policyFile = "policy.json"

// secretFile is the gateway's ingress secret inside gatewayConfigDir, and
// secretMode its mode: readable by the gateway's user (its owner) only.
const (
	secretFile = "ingress-secret"
	secretMode = 0o400
)

// containerSpec is everything needed to create one container. Its hash
// (stamped as LabelSpecHash) decides adopt-or-replace.
type containerSpec struct {
	Name     string
	Config   *container.Config
	Host     *container.HostConfig
	Networks *network.NetworkingConfig
	// Extra networks to connect before start (the gateway's internal networks);
	// the engine's API 1.41 accepts only one network at create.
	Connect map[string]*network.EndpointSettings
	// netIDs maps the internal networks' names to the IDs this reconcile
	// resolved. Calls to the engine use the IDs, so a duplicate of the same
	// name (a create the engine finished after its client gave up) cannot
	// make them ambiguous; the spec and its hash keep the names.
	netIDs map[string]string
	hash   string
}

// netID returns the ID of network name, or the name when it has none.
func (s *containerSpec) netID(name string) string {
	if id := s.netIDs[name]; id != "" {
		return id
	}
	return name
}

// forEngine returns the host and networking configs of the create call,
// naming the internal networks by ID.
func (s *containerSpec) forEngine() (*container.HostConfig, *network.NetworkingConfig) {
	host := *s.Host
	host.NetworkMode = container.NetworkMode(s.netID(string(host.NetworkMode)))
	nets := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	for name, ep := range s.Networks.EndpointsConfig {
		nets.EndpointsConfig[s.netID(name)] = ep
	}
	return &host, nets
}

// seal computes the spec hash and stamps it as a label.
func (s *containerSpec) seal() {
	b, _ := json.Marshal(struct {
		C *container.Config
		H *container.HostConfig
		N *network.NetworkingConfig
		X map[string]*network.EndpointSettings
	}{s.Config, s.Host, s.Networks, s.Connect})
	sum := sha256.Sum256(b)
	s.hash = hex.EncodeToString(sum[:8])
	s.Config.Labels[LabelSpecHash] = s.hash
}

// hardened returns the host config every workspace container shares:
// unprivileged, all capabilities dropped, no-new-privileges, the engine's
// default seccomp profile (by not overriding it), resource limits, a tmpfs
// /tmp and no host paths.
func hardened(cpus float64, memMB, pids int64, readOnly bool, tmpfsMB int64, capAdd []string) *container.HostConfig {
	pl := pids
	return &container.HostConfig{
		Privileged:     false,
		CapDrop:        []string{"ALL"},
		CapAdd:         slices.Clone(capAdd),
		SecurityOpt:    []string{"no-new-privileges:true"},
		ReadonlyRootfs: readOnly,
		Tmpfs:          map[string]string{"/tmp": fmt.Sprintf("rw,noexec,nosuid,nodev,size=%dm", tmpfsMB)},
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		Resources: container.Resources{
			NanoCPUs:   int64(cpus * 1e9),
			Memory:     memMB << 20,
			MemorySwap: memMB << 20,
			PidsLimit:  &pl,
		},
	}
}

// restartMarker is the latest restart request that applies to a service.
func restartMarker(ops *workspacev1.Operations, service workspace.Service) time.Time {
	var t time.Time
	pick := func(ts *timestamppb.Timestamp) {
		if ts != nil && ts.AsTime().After(t) {
			t = ts.AsTime()
		}
	}
	pick(ops.GetRestartWorkspaceTime())
	switch service {
	case workspace.ServiceRuntime:
		pick(ops.GetRestartRuntimeTime())
	case workspace.ServiceTerminal:
		pick(ops.GetRestartTerminalTime())
	case workspace.ServiceBrowser:
		pick(ops.GetRestartBrowserTime())
	case workspace.ServiceCanvas:
		pick(ops.GetRestartCanvasTime())
	}
	return t
}

// serviceSpec is the desired container of one service of workspace w.
func (p *Provisioner) serviceSpec(w *workspacev1.Workspace, service workspace.Service, nets networks, enabled map[workspace.Service]bool) *containerSpec {
	sc := p.cfg.Services.Get(service)
	id := w.Id
	net := nets.of(groupOf(service))
	gw := net.gatewayIP()
	proxyPort := p.cfg.Gateway.WorkspacePort
	if groupOf(service) == policy.GroupBrowser {
		proxyPort = p.cfg.Gateway.BrowserPort
	}
	proxy := fmt.Sprintf("http://%s:%d", gw, proxyPort)
	hosts := p.extraHosts(w.Id, groupOf(service), net, enabled)
	noProxy := []string{"localhost", "127.0.0.1", "::1", net.Subnet.String()}
	for _, h := range hosts {
		name, _, _ := strings.Cut(h, ":")
		noProxy = append(noProxy, name)
	}
	env := []string{
		// PORT for the stub, AILERON_ADDR for the runtime daemon (its --addr).
		"PORT=" + strconv.Itoa(sc.Port), "AILERON_ADDR=:" + strconv.Itoa(sc.Port),
		"AILERON_WORKSPACE_ID=" + id, "AILERON_SERVICE=" + string(service),
		"HTTP_PROXY=" + proxy, "HTTPS_PROXY=" + proxy, "http_proxy=" + proxy, "https_proxy=" + proxy,
		"NO_PROXY=" + strings.Join(noProxy, ","), "no_proxy=" + strings.Join(noProxy, ","),
	}
	if service == workspace.ServiceRuntime {
		// The terminal and the browser are containers of their own: the
		// runtime's activity signal asks them, so typing in the terminal or
		// taking over the browser counts for the workspace. The agent
		// drives the browser through the gateway's DevTools relay (which
		// passes the activity too): the runtime's group never joins the
		// browser's network.
		var peers []string
		if enabled[workspace.ServiceTerminal] {
			peers = append(peers, "http://"+hostName(workspace.ServiceTerminal)+":"+strconv.Itoa(p.cfg.Services.Terminal.Port))
		}
		if enabled[workspace.ServiceBrowser] {
			relay := fmt.Sprintf("http://gateway:%d", p.cfg.Gateway.CDPPort)
			peers = append(peers, relay)
			env = append(env, workspace.BrowserURLEnv+"="+relay)
		}
		if len(peers) > 0 {
			env = append(env, "AILERON_ACTIVITY_PEER="+strings.Join(peers, ","))
		}
	}
	if service == workspace.ServiceCanvas {
		// The canvas reads what it serves through the runtime's files API.
		env = append(env, fmt.Sprintf("%s=http://%s:%d", workspace.RuntimeURLEnv, hostName(workspace.ServiceRuntime), p.cfg.Services.Runtime.Port))
	}
	env = append(env, sortedEnv(sc.Env)...)
	labels := p.serviceLabels(id, service)
	if t := restartMarker(w.Operations, service); !t.IsZero() {
		labels[LabelRestartedAt] = t.UTC().Format(time.RFC3339Nano)
	}
	host := hardened(sc.CPUs, sc.MemoryMB, sc.Pids, sc.ReadOnlyRootfs, sc.TmpfsMB, sc.CapAdd)
	host.NetworkMode = container.NetworkMode(net.Name)
	host.ExtraHosts = hosts
	host.ShmSize = sc.ShmMB << 20
	if p.dnsMitigation {
		// No external resolver: the embedded DNS forwards to 127.0.0.1 inside
		// the container's own namespace, where nothing listens.
		host.DNS = []string{"127.0.0.1"}
	}
	if service == workspace.ServiceRuntime || service == workspace.ServiceTerminal {
		host.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: VolumeName(id), Target: dataMount}}
	}
	spec := &containerSpec{
		Name: ContainerName(service, id),
		Config: &container.Config{
			Image: sc.Image, Cmd: sc.Command, Env: env, User: sc.User, Labels: labels,
			Hostname: hostName(service), StopTimeout: stopSeconds(p.cfg.StopTimeout),
		},
		Host: host,
		Networks: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			net.Name: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: net.serviceIP(service).String()}, Aliases: []string{hostName(service)}},
		}},
		netIDs: map[string]string{net.Name: net.ID},
	}
	spec.seal()
	return spec
}

// extraHosts names the gateway and the enabled siblings of a group by their
// static addresses, so nothing needs a resolver.
func (p *Provisioner) extraHosts(id string, group policy.Group, net netInfo, enabled map[workspace.Service]bool) []string {
	gw := net.gatewayIP().String()
	hosts := []string{"gateway:" + gw, GatewayName(id) + ":" + gw}
	for _, s := range workspace.Services {
		if groupOf(s) == group && enabled[s] {
			ip := net.serviceIP(s).String()
			hosts = append(hosts, hostName(s)+":"+ip, ContainerName(s, id)+":"+ip)
		}
	}
	return hosts
}

func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func stopSeconds(d Duration) *int {
	s := int(time.Duration(d).Seconds())
	return &s
}
