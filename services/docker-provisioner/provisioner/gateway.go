package provisioner

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/ingress"
	"aileron.dev/services/firewall/policy"
)

// gatewaySpec is the desired egress gateway of workspace w: created on the
// outside network with the ingress port published, then connected to both
// internal networks at their .2 address.
func (p *Provisioner) gatewaySpec(w *workspacev1.Workspace, nets networks, enabled map[workspace.Service]bool) *containerSpec {
	g := p.cfg.Gateway
	ingress := nat.Port(strconv.Itoa(g.IngressPort) + "/tcp")
	host := hardened(g.CPUs, g.MemoryMB, g.Pids, true, 16, nil)
	host.NetworkMode = container.NetworkMode(p.cfg.OutsideNetwork)
	host.PortBindings = nat.PortMap{ingress: {{HostIP: p.cfg.IngressHost, HostPort: ""}}}
	host.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: gatewayVolumeName(w.Id), Target: gatewayConfigDir}}
	spec := &containerSpec{
		Name: GatewayName(w.Id),
		Config: &container.Config{
			Image: g.Image, Cmd: p.gatewayArgs(w.Id, nets, enabled), User: g.User,
			Labels: p.roleLabels(w.Id, roleGateway), Hostname: "gateway",
			ExposedPorts: nat.PortSet{ingress: {}}, StopTimeout: stopSeconds(p.cfg.StopTimeout),
		},
		Host: host,
		Networks: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			p.cfg.OutsideNetwork: {Aliases: []string{ingressAlias(w.Id)}},
		}},
		Connect: map[string]*network.EndpointSettings{
			nets.ws.Name: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: nets.ws.gatewayIP().String()}, Aliases: []string{"gateway"}},
			nets.br.Name: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: nets.br.gatewayIP().String()}, Aliases: []string{"gateway"}},
		},
		netIDs: map[string]string{nets.ws.Name: nets.ws.ID, nets.br.Name: nets.br.ID},
	}
	spec.seal()
	return spec
}

// gatewayArgs are the egress gateway's flags (services/firewall/cmd/egress-gateway):
// one proxy listener per group, bound to that group's internal address only,
// the policy file, the ingress listener and one route per enabled service.
//
// The ingress is bound to the gateway's address on the outside network only,
// named by a network-scoped alias that the engine's DNS resolves when the
// gateway starts (the address is the engine's choice, unknown at create).
// Bound to all interfaces, it would also listen on the gateway's internal
// addresses, and its routes would let each group reach the other group's
// services (chrome the terminal, the runtime chrome), and through them the
// other group's egress policy.
func (p *Provisioner) gatewayArgs(id string, nets networks, enabled map[workspace.Service]bool) []string {
	g := p.cfg.Gateway
	args := []string{
		"--listen", fmt.Sprintf("workspace=%s:%d", nets.ws.gatewayIP(), g.WorkspacePort),
		"--listen", fmt.Sprintf("browser=%s:%d", nets.br.gatewayIP(), g.BrowserPort),
		"--policy-file", gatewayConfigDir + "/" + policyFile,
		"--secret-file", gatewayConfigDir + "/" + secretFile,
		"--dns", g.UpstreamDNS,
		"--ingress", fmt.Sprintf("%s.:%d", ingressAlias(id), g.IngressPort),
	}
	for _, a := range p.hostAddrs {
		args = append(args, "--deny-cidr", a.String())
	}
	for _, c := range g.DenyCIDRs {
		pfx, _ := policy.ParsePrefix(c) // validated with the config
		args = append(args, "--deny-cidr", pfx.String())
	}
	for _, s := range workspace.Services {
		if enabled[s] {
			target := fmt.Sprintf("%s:%d", nets.of(groupOf(s)).serviceIP(s), p.cfg.Services.Get(s).Port)
			args = append(args, "--route", route(s)+"="+target)
		}
	}
	if enabled[workspace.ServiceBrowser] {
		// The DevTools relay listens on the workspace network only: the
		// runtime's agent reaches the browser's CDP and nothing else of the
		// browser group.
		args = append(args, "--cdp-relay", fmt.Sprintf("%s:%d=%s:%d", nets.ws.gatewayIP(), g.CDPPort,
			nets.br.serviceIP(workspace.ServiceBrowser), p.cfg.Services.Browser.Port))
	}
	return append(args, g.ExtraArgs...)
}

// ingressAlias names the gateway on the outside network only; the trailing
// dot in --ingress keeps search domains out of the lookup.
func ingressAlias(id string) string { return "workspace-ingress-" + id }

// route is the ingress path prefix of a service.
func route(service workspace.Service) string { return "/" + string(service) + "/" }

// denyAll is enforced until the firewall service has stored a policy.
func denyAll() egress.Policies {
	return egress.Policies{
		Workspace: policy.Effective{Group: policy.GroupWorkspace, Mode: policy.ModeDeny, AllowedDomains: []string{}},
		Browser:   policy.Effective{Group: policy.GroupBrowser, Mode: policy.ModeDeny, AllowedDomains: []string{}},
	}
}

func toEffective(g policy.Group, gp *eventsv1.GroupPolicy) policy.Effective {
	domains := append([]string{}, gp.GetAllowedDomains()...)
	return policy.Effective{Group: g, NetworkAccessEnabled: gp.GetNetworkAccessEnabled(), Mode: policy.Mode(gp.GetMode()), AllowedDomains: domains}
}

// loadPolicy reads the effective policy of workspace id; nil when the
// firewall service has not stored one yet.
func (p *Provisioner) loadPolicy(ctx context.Context, id string) (*eventsv1.FirewallPolicy, error) {
	e, err := p.policies.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get firewall policy %s: %w", id, err)
	}
	fp := &eventsv1.FirewallPolicy{}
	if err := proto.Unmarshal(e.Value(), fp); err != nil {
		return nil, fmt.Errorf("decode firewall policy %s: %w", id, err)
	}
	return fp, nil
}

// applyPolicy writes the workspace's effective policy (deny-all before the
// firewall service computed one) into the gateway's policy volume, which the
// gateway watches and reloads, closing only the connections the new policy
// refuses. It returns the policy it wrote, nil for deny-all, and the file's
// digest (egress.PolicyDigest), which the gateway publishes once the policy
// is in force.
func (p *Provisioner) applyPolicy(ctx context.Context, id, gatewayID string) (*eventsv1.FirewallPolicy, string, error) {
	fp, err := p.loadPolicy(ctx, id)
	if err != nil {
		return nil, "", err
	}
	content := denyAll()
	if fp != nil {
		content = egress.Policies{
			Workspace: toEffective(policy.GroupWorkspace, fp.GetWorkspace()),
			Browser:   toEffective(policy.GroupBrowser, fp.GetBrowser()),
		}
	}
	data, err := json.MarshalIndent(content, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("encode policy file: %w", err)
	}
	digest := egress.PolicyDigest(data)
	key := gatewayID + "\x00" + string(data)
	p.mu.Lock()
	same := p.appliedPolicy[id] == key
	p.mu.Unlock()
	if same {
		return fp, digest, nil
	}
	if err := p.copyFile(ctx, gatewayID, gatewayConfigDir, policyFile, data, 0o644); err != nil {
		return nil, "", err
	}
	p.mu.Lock()
	p.appliedPolicy[id] = key
	p.mu.Unlock()
	p.metrics.policiesWritten.Inc()
	p.log.Info("firewall policy written", "workspace_id", id, "revision", fp.GetRevision())
	return fp, digest, nil
}

// awaitPolicy waits until the running gateway of workspace id, whose
// ingress is published on port, says it enforces the policy of digest:
// the gateway reloads its file on its own schedule, and cuts the tunnels
// the new policy refuses before it says so. Only then is a revision
// reported applied. Bounded by health_wait; a gateway that never confirms
// fails the pass, which is retried.
func (p *Provisioner) awaitPolicy(ctx context.Context, id, gatewayID, port, digest string) error {
	key := gatewayID + "\x00" + digest
	p.mu.Lock()
	done := p.enforcedPolicy[id] == key
	p.mu.Unlock()
	if done {
		return nil
	}
	u := "http://" + net.JoinHostPort(p.probeHost(), port) + ingress.PolicyPath
	deadline := p.now().Add(time.Duration(p.cfg.HealthWait))
	delay := 20 * time.Millisecond
	var got string
	for {
		var err error
		if got, err = p.gatewayPolicy(ctx, id, u); err == nil && got == digest {
			p.mu.Lock()
			p.enforcedPolicy[id] = key
			p.mu.Unlock()
			return nil
		}
		if !p.now().Before(deadline) {
			return fmt.Errorf("gateway %s did not confirm the policy written to it within %s (it enforces %q): %v",
				GatewayName(id), time.Duration(p.cfg.HealthWait), got, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// gatewayPolicy reads the digest of the policy the gateway enforces.
func (p *Provisioner) gatewayPolicy(ctx context.Context, id, u string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, time.Duration(p.cfg.ProbeTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set(frontdoor.Header, p.key.WorkspaceSecret(id))
	c := *p.probe
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: status %d", ingress.PolicyPath, resp.StatusCode)
	}
	var body struct {
		SHA256 string `json:"sha256"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body); err != nil {
		return "", fmt.Errorf("GET %s: %w", ingress.PolicyPath, err)
	}
	return body.SHA256, nil
}

// applySecret gives the gateway the workspace's ingress secret, which its
// ingress requires of every request (only the API's front door, holding the
// same key, can compute it). It goes in a file in the gateway's config
// volume, owned by the gateway's user with mode 0400, because the
// alternatives leak it: a flag is in the process's arguments, which every
// host user reads with ps, and a variable is in `docker inspect` and the
// container's config on disk; the file also needs no recreate to change.
//
// The first pass of this process over a gateway container reads the file
// back and writes it only when it is missing or differs (content, owner or
// mode): a restarted provisioner loads the same key, finds every file right
// and leaves running gateways alone, and a lost or stale file converges.
// Later passes trust what this process checked or wrote (as for the policy
// file), so a pass, which may be cut short by the next hint, costs no extra
// engine call. A gateway without the file refuses everything (fails closed)
// until it appears.
func (p *Provisioner) applySecret(ctx context.Context, id, gatewayID string) error {
	p.mu.Lock()
	done := p.appliedSecret[id] == gatewayID
	p.mu.Unlock()
	if done {
		return nil
	}
	want := []byte(p.key.WorkspaceSecret(id))
	ok, err := p.fileIs(ctx, gatewayID, gatewayConfigDir+"/"+secretFile, want, secretMode)
	if err != nil {
		return err
	}
	if !ok {
		if err := p.copyFile(ctx, gatewayID, gatewayConfigDir, secretFile, want, secretMode); err != nil {
			return err
		}
		p.log.Info("ingress secret written", "workspace_id", id)
	}
	p.mu.Lock()
	p.appliedSecret[id] = gatewayID
	p.mu.Unlock()
	return nil
}

// fileIs reports whether path in the container holds exactly data, owned
// by the gateway's user with mode; false when it does not exist.
func (p *Provisioner) fileIs(ctx context.Context, containerID, path string, data []byte, mode int64) (bool, error) {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	rc, _, err := p.docker.CopyFromContainer(cctx, containerID, path)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	uid, gid := userIDs(p.cfg.Gateway.User)
	if hdr.Typeflag != tar.TypeReg || hdr.Mode&0o7777 != mode || hdr.Uid != uid || hdr.Gid != gid || hdr.Size != int64(len(data)) {
		return false, nil
	}
	got, err := io.ReadAll(io.LimitReader(tr, int64(len(data))+1))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return bytes.Equal(got, data), nil
}

// copyFile writes one file, owned by the gateway's user, into a container
// (here: into a volume mounted in it).
func (p *Provisioner) copyFile(ctx context.Context, containerID, dir, name string, data []byte, mode int64) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	uid, gid := userIDs(p.cfg.Gateway.User)
	hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Uid: uid, Gid: gid, ModTime: p.now()}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s archive: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write %s archive: %w", name, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write %s archive: %w", name, err)
	}
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	if err := p.docker.CopyToContainer(cctx, containerID, dir, &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	return nil
}

func userIDs(user string) (uid, gid int) {
	u, g, _ := strings.Cut(user, ":")
	uid, _ = strconv.Atoi(u)
	gid, _ = strconv.Atoi(g)
	return uid, gid
}

// reportFirewall tells the orchestrator the policy revision is enforced.
func (p *Provisioner) reportFirewall(ctx context.Context, id string, fp *eventsv1.FirewallPolicy) error {
	if fp == nil {
		return nil // the firewall service reports "applying" until it has a policy
	}
	phase, msg := workspace.FirewallApplied, "enforced by egress gateway "+GatewayName(id)
	if !p.dnsMitigation && !p.dnsLeakFixed {
		phase, msg = workspace.FirewallDegraded, msg+"; the engine's embedded DNS can leak queries from internal networks (CVE-2024-29018) and dns_mitigation is off"
	}
	r := &eventsv1.FirewallReport{
		WorkspaceId: id, Revision: fp.Revision, Phase: string(phase), Message: msg, Reporter: Reporter,
		WorkspaceEffectiveAllowedDomains: fp.GetWorkspace().GetAllowedDomains(),
		BrowserEffectiveAllowedDomains:   fp.GetBrowser().GetAllowedDomains(),
	}
	return p.publishFirewall(ctx, r)
}
