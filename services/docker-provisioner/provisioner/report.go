package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/workspace"
)

// status is the per-service status observed during one reconcile pass.
type status map[workspace.Service]*workspacev1.ServiceStatus

// newStatus starts every enabled service as state and every other as disabled.
func (p *Provisioner) newStatus(enabled map[workspace.Service]bool, state workspace.ServiceState) status {
	st := status{}
	for _, s := range workspace.Services {
		ss := &workspacev1.ServiceStatus{Enabled: enabled[s], Image: p.cfg.Services.Get(s).Image, State: string(state)}
		if !enabled[s] {
			ss.State = string(workspace.ServiceDisabled)
		}
		st[s] = ss
	}
	return st
}

func (st status) set(service workspace.Service, state workspace.ServiceState, msg string) {
	if s := st[service]; s != nil && s.Enabled {
		s.State, s.Message = string(state), msg
	}
}

// observe records a service's endpoint and its last restart (the start of a
// container created for a restart request).
func (p *Provisioner) observe(st status, service workspace.Service, c container.InspectResponse, port string) {
	s := st[service]
	if s == nil {
		return
	}
	s.Endpoint = p.endpoint(port, service)
	if c.Config != nil && c.Config.Labels[LabelRestartedAt] != "" {
		if t := startedAt(c); !t.IsZero() {
			s.LastRestartTime = timestamppb.New(t)
		}
	}
}

func (st status) proto() *workspacev1.Services {
	if st == nil {
		return nil
	}
	return &workspacev1.Services{
		Runtime: st[workspace.ServiceRuntime], Terminal: st[workspace.ServiceTerminal], Browser: st[workspace.ServiceBrowser], Canvas: st[workspace.ServiceCanvas],
	}
}

// startedAt is when the container last started; zero if never.
func startedAt(c container.InspectResponse) time.Time {
	if c.State == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, c.State.StartedAt)
	if err != nil || t.Year() < 2000 {
		return time.Time{}
	}
	return t
}

// report publishes what was observed about w's current generation, once
// per distinct report (publishChanged).
func (p *Provisioner) report(ctx context.Context, w *workspacev1.Workspace, phase workspace.Phase, reason string, code errcode.Code, st status) error {
	r := &eventsv1.StatusReport{
		WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: string(phase), Reason: reason,
		ErrorCode: string(code), Services: st.proto(), Reporter: Reporter, Steps: p.stepsOf(w),
	}
	sent, err := p.publishChanged(ctx, w.Id, event.StatusSubject(w.Id), r, func(t *timestamppb.Timestamp) { r.Time = t })
	if sent {
		p.log.Info("status reported", "workspace_id", w.Id, "generation", w.Generation, "phase", phase, "reason", reason, "error_code", code)
	}
	return err
}

// publishFirewall publishes a firewall report once per content: a new
// revision, phase or set of effective domains (new system defaults).
func (p *Provisioner) publishFirewall(ctx context.Context, r *eventsv1.FirewallReport) error {
	sent, err := p.publishChanged(ctx, r.WorkspaceId+"/fw", event.FirewallStatusSubject(r.WorkspaceId), r, func(t *timestamppb.Timestamp) { r.Time = t })
	if sent {
		p.log.Info("firewall status reported", "workspace_id", r.WorkspaceId, "revision", r.Revision, "phase", r.Phase)
	}
	return err
}

// publishChanged publishes m on subject unless the last message remembered
// under memo had the same content; stamp sets m's time just before. The
// message id carries the content hash and the time, so a content that comes
// back (running, a service restarts, running again) is never dropped by the
// stream as a duplicate of the first.
func (p *Provisioner) publishChanged(ctx context.Context, memo, subject string, m proto.Message, stamp func(*timestamppb.Timestamp)) (bool, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("encode %T: %w", m, err)
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:6])
	p.mu.Lock()
	same := p.reported[memo] == h
	p.mu.Unlock()
	if same {
		return false, nil
	}
	now := p.now()
	stamp(timestamppb.New(now))
	if err := event.Publish(ctx, p.js, subject, fmt.Sprintf("%s-%s-%d", memo, h, now.UnixNano()), m); err != nil {
		return false, err
	}
	p.mu.Lock()
	p.reported[memo] = h
	p.mu.Unlock()
	return true, nil
}

// markFailed remembers that this process failed w's current generation, so
// later passes leave it alone until the generation changes (start, stop,
// delete or an update).
func (p *Provisioner) markFailed(w *workspacev1.Workspace) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failedGen[w.Id] = w.Generation
}

// gaveUp reports whether w is failed at a generation this process failed.
func (p *Provisioner) gaveUp(w *workspacev1.Workspace) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.failedGen[w.Id]
	return ok && g == w.Generation
}

// forget drops what the process remembers about a workspace that is gone.
func (p *Provisioner) forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.reported, id)
	delete(p.reported, id+"/fw")
	delete(p.failedGen, id)
	delete(p.crashes, id)
	delete(p.healthy, id)
	delete(p.steps, id)
	delete(p.appliedPolicy, id)
	delete(p.enforcedPolicy, id)
	delete(p.appliedSecret, id)
	delete(p.retries, id)
	delete(p.announced, id)
}
