package provisioner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// reconcile converges one workspace to its desired state in KV and reports.
// It returns a delay after which the workspace should be looked at again
// (0 for none), or an error to retry with backoff.
func (p *Provisioner) reconcile(ctx context.Context, id string) (time.Duration, error) {
	rec, err := p.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if err := p.behind(id, 0); err != nil {
			return 0, err
		}
		// Gone: its deletion already removed everything; the sweep catches leftovers.
		p.forget(id)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	w := rec.Workspace
	if err := p.behind(id, w.Revision); err != nil {
		return 0, err
	}
	if workspace.Provisioner(w.Provisioner) != workspace.ProvisionerDocker {
		return 0, nil
	}
	var after time.Duration
	switch workspace.Desired(w.DesiredState) {
	case workspace.DesiredDeleted:
		err = p.teardown(ctx, id)
		if err == nil {
			err = p.report(ctx, w, workspace.PhaseDeleted, "every container, network and volume removed", "", nil)
		}
	case workspace.DesiredStopped:
		err = p.stop(ctx, w)
	default:
		after, err = p.converge(ctx, w)
	}
	if errors.Is(err, errNotOwned) {
		p.markFailed(w)
		return 0, p.report(ctx, w, workspace.PhaseFailed, err.Error(), errcode.ResourceConflict, nil)
	}
	if cl := (*crashLoopError)(nil); errors.As(err, &cl) {
		p.metrics.crashLoops.WithLabelValues(string(cl.service)).Inc()
		p.markFailed(w)
		return 0, p.report(ctx, w, workspace.PhaseFailed, cl.Error(), errcode.ContainerCrashLoop, nil)
	}
	return after, err
}

// enabledServices returns which services workspace w runs.
func enabledServices(w *workspacev1.Workspace) map[workspace.Service]bool {
	s := w.GetServices()
	return map[workspace.Service]bool{
		workspace.ServiceRuntime:  s.GetRuntime().GetEnabled(),
		workspace.ServiceTerminal: s.GetTerminal().GetEnabled(),
		workspace.ServiceBrowser:  s.GetBrowser().GetEnabled(),
		workspace.ServiceCanvas:   s.GetCanvas().GetEnabled(),
	}
}

// enabledList lists the enabled services, in display order.
func enabledList(enabled map[workspace.Service]bool) []workspace.Service {
	var out []workspace.Service
	for _, s := range workspace.Services {
		if enabled[s] {
			out = append(out, s)
		}
	}
	return out
}

// converge brings a workspace whose desired state is running up: volumes,
// networks, images, gateway (with its policy), service containers, then
// health checks through the ingress. Drift (a container removed or stopped
// behind our back) is repaired on the way, since every step is "ensure".
func (p *Provisioner) converge(ctx context.Context, w *workspacev1.Workspace) (time.Duration, error) {
	if p.gaveUp(w) {
		return 0, nil
	}
	enabled := enabledServices(w)
	st := p.newStatus(enabled, workspace.ServicePending)
	t := p.now()
	if err := p.ensureVolumes(ctx, w.Id); err != nil {
		return 0, err
	}
	p.step(w, workspace.StepVolumeReady, "", t)
	t = p.now()
	nets, err := p.ensureNetworks(ctx, w.Id)
	if err != nil {
		return 0, err
	}
	p.step(w, workspace.StepNetworksReady, "", t)
	if failed, err := p.ensureImages(ctx, w, st, enabled); failed || err != nil {
		return 0, err
	}
	existing, err := p.existing(ctx, w.Id)
	if err != nil {
		return 0, err
	}
	retry := p.retryAfterFailure(w)
	if err := p.removeServices(ctx, w.Id, existing, func(s workspace.Service) bool { return retry || !enabled[s] }); err != nil {
		return 0, err
	}
	// The services know the gateway by its static address, so the gateway
	// and the services are created and started concurrently.
	var gw container.InspectResponse
	var gwErr error
	var wg sync.WaitGroup
	wg.Go(func() { gw, gwErr = p.ensureGateway(ctx, w, nets, enabled, existing[GatewayName(w.Id)]) })
	cs, err := p.ensureServices(ctx, w, nets, enabled, existing)
	wg.Wait()
	if err = errors.Join(gwErr, err); err != nil {
		return 0, err
	}
	port, ok := p.ingressPort(gw)
	if !ok {
		return 0, fmt.Errorf("gateway %s has no published ingress port", GatewayName(w.Id))
	}
	return p.checkHealth(ctx, w, st, cs, port)
}

// ensureImages makes sure every image the workspace needs is present,
// pulling missing ones (services show "pulling"). A failed pull reports the
// workspace failed with IMAGE_PULL_FAILED naming the image; failed is true then.
func (p *Provisioner) ensureImages(ctx context.Context, w *workspacev1.Workspace, st status, enabled map[workspace.Service]bool) (failed bool, err error) {
	refs := []string{p.cfg.Gateway.Image}
	for _, s := range enabledList(enabled) {
		if img := p.cfg.Services.Get(s).Image; !slices.Contains(refs, img) {
			refs = append(refs, img)
		}
	}
	for _, ref := range refs {
		t := p.now()
		ok, err := p.hasImage(ctx, ref)
		if err != nil || ok {
			if err != nil {
				return false, err
			}
			p.step(w, workspace.StepImagePresent, ref, t)
			continue
		}
		users := p.imageUsers(ref, enabled)
		for _, s := range users {
			st.set(s, workspace.ServicePulling, "pulling image "+ref)
		}
		if err := p.report(ctx, w, workspace.PhaseProgressing, "pulling image "+ref, "", st); err != nil {
			return false, err
		}
		p.log.Info("pulling image", "workspace_id", w.Id, "image", ref)
		err = p.pull(ctx, ref, nil)
		if err == nil {
			p.step(w, workspace.StepImagePulled, ref, t)
			for _, s := range users {
				st.set(s, workspace.ServicePending, "")
			}
			continue
		}
		if ctx.Err() != nil || !errors.Is(err, errPull) {
			return false, err
		}
		for _, s := range users {
			st.set(s, workspace.ServiceFailed, err.Error())
		}
		p.markFailed(w)
		p.log.Warn("image pull failed", "workspace_id", w.Id, "image", ref, "err", err)
		return true, p.report(ctx, w, workspace.PhaseFailed, "image "+ref+" could not be pulled: "+err.Error(), errcode.ImagePullFailed, st)
	}
	return false, nil
}

// imageUsers lists the enabled services running ref.
func (p *Provisioner) imageUsers(ref string, enabled map[workspace.Service]bool) []workspace.Service {
	var out []workspace.Service
	for _, s := range enabledList(enabled) {
		if p.cfg.Services.Get(s).Image == ref {
			out = append(out, s)
		}
	}
	return out
}

// ensureGateway creates or adopts the gateway, writes its policy and ingress
// secret files and starts it, then, once the gateway confirms it enforces
// that policy, reports the firewall revision applied.
func (p *Provisioner) ensureGateway(ctx context.Context, w *workspacev1.Workspace, nets networks, enabled map[workspace.Service]bool, exists bool) (container.InspectResponse, error) {
	c, err := p.ensureCreated(ctx, w, gatewayTarget, p.gatewaySpec(w, nets, enabled), exists)
	if err != nil {
		return c, err
	}
	t := p.now()
	fp, digest, err := p.applyPolicy(ctx, w.Id, c.ID)
	if err != nil {
		return c, err
	}
	if err := p.applySecret(ctx, w.Id, c.ID); err != nil {
		return c, err
	}
	if c, err = p.ensureStarted(ctx, w, gatewayTarget, c); err != nil {
		return c, err
	}
	port, ok := p.ingressPort(c)
	if !ok {
		return c, fmt.Errorf("gateway %s has no published ingress port", GatewayName(w.Id))
	}
	if err := p.awaitPolicy(ctx, w.Id, c.ID, port, digest); err != nil {
		return c, err
	}
	if fp != nil {
		// From the write to the gateway's word that it enforces the policy.
		p.step(w, workspace.StepFirewallApplied, "", t)
	}
	if err := p.reportFirewall(ctx, w.Id, fp); err != nil {
		p.log.Warn("firewall report failed", "workspace_id", w.Id, "err", err)
	}
	return c, nil
}

// ensureServices creates or adopts and starts every enabled service, in parallel.
func (p *Provisioner) ensureServices(ctx context.Context, w *workspacev1.Workspace, nets networks, enabled map[workspace.Service]bool, existing map[string]bool) (map[workspace.Service]container.InspectResponse, error) {
	var mu sync.Mutex
	out := map[workspace.Service]container.InspectResponse{}
	err := parallel(enabledList(enabled), func(s workspace.Service) error {
		spec := p.serviceSpec(w, s, nets, enabled)
		c, err := p.ensureCreated(ctx, w, string(s), spec, existing[spec.Name])
		if err != nil {
			return err
		}
		// Exited on its own: the workspace was running and this
		// container has run (a start or restart gets a new generation).
		if !c.State.Running && workspace.State(w.State) == workspace.StateRunning && !startedAt(c).IsZero() {
			if err := p.noteExit(w, s, c); err != nil {
				return err
			}
		}
		if c, err = p.ensureStarted(ctx, w, string(s), c); err != nil {
			return err
		}
		mu.Lock()
		out[s] = c
		mu.Unlock()
		return nil
	})
	return out, err
}

// gatewayTarget names the egress gateway in timeline steps.
const gatewayTarget = "gateway"

// ensureCreated is ensureContainer recording a container_created step for
// target when it created the container (new, or replacing an outdated one).
func (p *Provisioner) ensureCreated(ctx context.Context, w *workspacev1.Workspace, target string, spec *containerSpec, exists bool) (container.InspectResponse, error) {
	t := p.now()
	c, created, err := p.ensureContainer(ctx, w.Id, spec, exists)
	if err == nil && created {
		p.step(w, workspace.StepContainerCreated, target, t)
	}
	return c, err
}

// ensureStarted starts c unless it runs, records a container_started step
// for target, and returns c inspected again.
func (p *Provisioner) ensureStarted(ctx context.Context, w *workspacev1.Workspace, target string, c container.InspectResponse) (container.InspectResponse, error) {
	if c.State.Running {
		return c, nil
	}
	t := p.now()
	if err := p.start(ctx, c); err != nil {
		return c, err
	}
	c, _, err := p.inspect(ctx, c.ID)
	if err == nil {
		p.step(w, workspace.StepContainerStarted, target, t)
	}
	return c, err
}

// existing lists the containers of workspace id once per pass: names that
// are missing are created without a prior inspect.
func (p *Provisioner) existing(ctx context.Context, id string) (map[string]bool, error) {
	cs, err := p.listContainers(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range cs {
		for _, n := range c.Names {
			out[strings.TrimPrefix(n, "/")] = true
		}
	}
	return out, nil
}

// removeServices removes the existing service containers of workspace id
// that match, and forgets them in existing.
func (p *Provisioner) removeServices(ctx context.Context, id string, existing map[string]bool, match func(service workspace.Service) bool) error {
	var victims []string
	for _, s := range workspace.Services {
		if name := ContainerName(s, id); existing[name] && match(s) {
			victims = append(victims, name)
			delete(existing, name)
		}
	}
	return parallel(victims, func(name string) error { return p.removeContainer(ctx, name) })
}

// checkHealth probes the services and reports running when all are healthy,
// failed with HEALTH_CHECK_FAILED when one has been unhealthy for longer
// than HealthTimeout since its container started, and progressing otherwise
// (asking to be looked at again shortly).
func (p *Provisioner) checkHealth(ctx context.Context, w *workspacev1.Workspace, st status, cs map[workspace.Service]container.InspectResponse, port string) (time.Duration, error) {
	names := enabledList(enabledServices(w))
	for _, s := range names {
		p.observe(st, s, cs[s], port)
	}
	// Probing stops as soon as the workspace changes (a container died, an
	// event came): a probe in flight to a dead container would otherwise
	// hold this pass for probe_timeout, and the next pass is queued already.
	probeCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.queue.Changed(w.Id):
			cancel()
		case <-probeCtx.Done():
		}
	}()
	// A health check is timed from its container's start (this pass's
	// start when the engine did not say).
	probing := p.now()
	passed := func(s workspace.Service) {
		from := startedAt(cs[s])
		if from.IsZero() {
			from = probing
		}
		p.step(w, workspace.StepHealthCheckPassed, string(s), from)
	}
	errs := p.awaitHealthy(probeCtx, w.Id, port, names, time.Duration(p.cfg.HealthWait), passed, func(errs map[workspace.Service]error) {
		expired := p.judgeHealth(w.Id, st, names, cs, errs)
		if len(expired) == 0 {
			_ = p.report(ctx, w, workspace.PhaseProgressing, "waiting for health checks", "", st)
		}
	})
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if probeCtx.Err() != nil {
		return 0, nil
	}
	expired := p.judgeHealth(w.Id, st, names, cs, errs)
	if len(expired) > 0 {
		p.markFailed(w)
		reason := fmt.Sprintf("health check of %s failed for more than %s: %v",
			joinServices(expired), time.Duration(p.cfg.HealthTimeout), errs[expired[0]])
		return 0, p.report(ctx, w, workspace.PhaseFailed, reason, errcode.HealthCheckFailed, st)
	}
	if len(errs) > 0 {
		return time.Second, p.report(ctx, w, workspace.PhaseProgressing, "waiting for health checks", "", st)
	}
	return 0, p.report(ctx, w, workspace.PhaseRunning, "all services running and healthy", "", st)
}

// seenHealthy is the container of a service last seen healthy, and when.
type seenHealthy struct {
	container string
	at        time.Time
}

// judgeHealth sets each service's state from its probe result and returns
// the services unhealthy for longer than HealthTimeout. The timeout runs
// from the container's start, or from the last time this process saw the
// same container healthy: a service that was up and stops answering (the
// browser daemon while it restarts a dead Chromium) is restarting, not
// starting, and gets the whole timeout to come back before the workspace
// fails.
func (p *Provisioner) judgeHealth(id string, st status, names []workspace.Service, cs map[workspace.Service]container.InspectResponse, errs map[workspace.Service]error) []workspace.Service {
	timeout := time.Duration(p.cfg.HealthTimeout)
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := p.healthy[id]
	if seen == nil {
		seen = map[workspace.Service]seenHealthy{}
		p.healthy[id] = seen
	}
	var expired []workspace.Service
	for _, s := range names {
		err, bad := errs[s]
		if !bad {
			seen[s] = seenHealthy{container: cs[s].ID, at: now}
			st.set(s, workspace.ServiceRunning, "")
			continue
		}
		from, state, what := startedAt(cs[s]), workspace.ServiceStarting, "waiting for health check: "
		if last, ok := seen[s]; ok && last.container == cs[s].ID && last.at.After(from) {
			from, state, what = last.at, workspace.ServiceRestarting, "healthy before, not answering now: "
		}
		if now.Sub(from) > timeout {
			st.set(s, workspace.ServiceFailed, fmt.Sprintf("health check failing for more than %s: %v", timeout, err))
			expired = append(expired, s)
			continue
		}
		st.set(s, state, what+err.Error())
	}
	return expired
}

// retryAfterFailure reports (once) whether w's generation moved past one this
// process failed: a retried start then gets fresh service containers rather
// than the ones that failed their health checks.
func (p *Provisioner) retryAfterFailure(w *workspacev1.Workspace) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.failedGen[w.Id]
	if !ok || g == w.Generation {
		return false
	}
	delete(p.failedGen, w.Id)
	return true
}

// joinServices lists services for a message: "runtime, canvas".
func joinServices(services []workspace.Service) string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
