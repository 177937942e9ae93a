package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// ApplyStatus applies a provisioner's report through the state machine. A
// report about an older generation than the record's is stale and ignored.
func (o *Orchestrator) ApplyStatus(ctx context.Context, r *eventsv1.StatusReport) error {
	if err := ValidateID(r.GetWorkspaceId()); err != nil {
		return event.Permanent(err)
	}
	phase := workspace.Phase(r.GetPhase())
	if phase == workspace.PhaseDeleted {
		return o.finishDelete(ctx, r)
	}
	_, err := o.mutateRecord(ctx, r.GetWorkspaceId(), "", func(rec *storev1.WorkspaceRecord) (change, error) {
		w := rec.Workspace
		if r.GetObservedGeneration() != w.Generation {
			return noChange, nil
		}
		c := noChange
		if addSteps(rec, r.GetObservedGeneration(), r.GetSteps()) {
			c = writeOnly
		}
		if r.GetServices() != nil && !proto.Equal(r.GetServices(), w.Services) {
			w.Services = mergeServices(w.Services, r.GetServices())
			c = writeOnly
		}
		if w.ObservedGeneration != r.GetObservedGeneration() {
			w.ObservedGeneration = r.GetObservedGeneration()
			c = writeOnly
		}
		if phase == workspace.PhaseRunning && r.GetServices() == nil {
			// The provisioner converged the generation that asked for the
			// restarts without detailing services: those restarts are done.
			for _, s := range serviceList(w.Services) {
				if s.State == string(workspace.ServiceRestarting) {
					s.State = string(workspace.ServiceRunning)
					c = writeOnly
				}
			}
		}
		state := workspace.State(w.State)
		next, _ := Observe(phase, state, workspace.Desired(w.DesiredState))
		if next == "" || (state == next && w.StateReason == r.GetReason()) {
			return c, nil
		}
		o.setState(w, next, r.GetReason())
		if next == workspace.StateFailed {
			w.ErrorCode = r.GetErrorCode()
			if w.ErrorCode == "" {
				w.ErrorCode = string(errcode.ProvisionerFailed)
			}
		}
		return emit(event.TypeStateChanged), nil
	})
	var de *Error
	if errors.As(err, &de) && errors.Is(de, ErrNotFound) {
		return nil // the workspace is gone; the report is moot
	}
	return err
}

// mergeServices keeps the orchestrator's enabled flags and fills in what the
// provisioner observed.
func mergeServices(cur, obs *workspacev1.Services) *workspacev1.Services {
	out := proto.Clone(cur).(*workspacev1.Services)
	for _, name := range workspace.Services {
		o := ServiceByName(obs, name)
		if o == nil {
			continue
		}
		s := ServiceByName(out, name)
		enabled := s.Enabled
		proto.Reset(s)
		proto.Merge(s, o)
		s.Enabled = enabled
	}
	return out
}

// finishDelete removes the record once the provisioner reports every resource gone.
func (o *Orchestrator) finishDelete(ctx context.Context, r *eventsv1.StatusReport) error {
	id := r.GetWorkspaceId()
	for attempt := 0; attempt < 16; attempt++ {
		rec, err := o.store.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		w := rec.Workspace
		_, remove := Observe(workspace.PhaseDeleted, workspace.State(w.State), workspace.Desired(w.DesiredState))
		if !remove || r.GetObservedGeneration() != w.Generation {
			return nil
		}
		// The name and the quota place are given back first, so once GET
		// answers 404 the same name can be created again at once. (A claim
		// left by a failed release is dropped later as stale.)
		if err := o.store.ReleaseName(ctx, w.Owner, w.Name, id); err != nil {
			o.log.Warn("release name failed", "workspace_id", id, "err", err)
		}
		if err := o.store.ReleaseQuota(ctx, w.Owner, id); err != nil {
			o.log.Warn("release quota failed", "workspace_id", id, "err", err)
		}
		err = o.store.Delete(ctx, id, w.Revision)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		o.index.Remove(id)
		o.metrics.deleted(w, o.cfg.Deadlines, o.now())
		o.firewallAsked.Delete(id)
		ev := &eventsv1.WorkspaceEvent{
			Id: fmt.Sprintf("%s-%d", id, rec.EventSequence+1), Type: event.TypeDeleted,
			Sequence: rec.EventSequence + 1, Workspace: w, Time: timestamppb.New(o.now()),
		}
		if err := o.publishDeleted(ctx, w, ev); err != nil {
			o.log.Warn("deleted event publish failed", "workspace_id", id, "err", err)
		}
		o.log.Info("workspace deleted", "workspace_id", id)
		return nil
	}
	return fmt.Errorf("delete %s: too many concurrent changes", id)
}

// publishDeleted publishes the deleted event of a workspace whose record is
// already gone, so no outbox or sweep can send it later: it retries (the
// same Nats-Msg-Id, stored once) for up to deletedPublishTimeout on a
// context of its own, which rides out a NATS failover. Consumers rely on it:
// the firewall service purges the workspace's policy on it.
func (o *Orchestrator) publishDeleted(ctx context.Context, w *workspacev1.Workspace, ev *eventsv1.WorkspaceEvent) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deletedPublishTimeout)
	defer cancel()
	subject := event.WorkspaceSubject(workspace.Provisioner(w.Provisioner), w.Id, ev.Type)
	for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		err := event.Publish(ctx, o.js, subject, ev.Id, ev)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
	}
}

// deletedPublishTimeout bounds publishDeleted: a NATS failover takes
// seconds, and the status consumer's ack wait is a minute.
const deletedPublishTimeout = 30 * time.Second

// ApplyFirewall applies a firewall report; reports about an older settings
// revision are ignored.
func (o *Orchestrator) ApplyFirewall(ctx context.Context, r *eventsv1.FirewallReport) error {
	if err := ValidateID(r.GetWorkspaceId()); err != nil {
		return event.Permanent(err)
	}
	var before *workspacev1.FirewallStatus // the status this write replaced
	w, err := o.mutate(ctx, r.GetWorkspaceId(), "", func(w *workspacev1.Workspace) (change, error) {
		before = nil
		fs := w.FirewallStatus
		if r.GetRevision() != fs.Revision {
			return noChange, nil
		}
		next := proto.Clone(fs).(*workspacev1.FirewallStatus)
		// "applying" from the policy service must not undo an "applied" from the enforcer.
		phase := workspace.FirewallPhase(r.GetPhase())
		if !(phase == workspace.FirewallApplying && fs.ObservedRevision == r.GetRevision()) {
			next.Phase = r.GetPhase()
			next.Message = r.GetMessage()
			next.ErrorCode = r.GetErrorCode()
		}
		if phase == workspace.FirewallApplied {
			next.ObservedRevision = r.GetRevision()
		}
		if phase == workspace.FirewallApplying || len(r.GetWorkspaceEffectiveAllowedDomains())+len(r.GetBrowserEffectiveAllowedDomains()) > 0 {
			next.WorkspaceEffectiveAllowedDomains = r.GetWorkspaceEffectiveAllowedDomains()
			next.BrowserEffectiveAllowedDomains = r.GetBrowserEffectiveAllowedDomains()
		}
		next.UpdateTime = fs.UpdateTime
		if proto.Equal(next, fs) {
			return noChange, nil
		}
		next.UpdateTime = timestamppb.New(o.now())
		before = fs
		w.FirewallStatus = next
		return writeOnly, nil
	})
	if err == nil && before != nil {
		o.firewallSettled(w, before, w.FirewallStatus)
	}
	var de *Error
	if errors.As(err, &de) && errors.Is(de, ErrNotFound) {
		return nil
	}
	return err
}

// firewallSettled counts a revision's first final phase, and for applied
// observes the time since the revision was asked for: the create for the
// first, this replica's UpdateFirewall for later ones (not seen after a
// restart or on another replica, so not observed then).
func (o *Orchestrator) firewallSettled(w *workspacev1.Workspace, cur, next *workspacev1.FirewallStatus) {
	phase := workspace.FirewallPhase(next.Phase)
	if phase == workspace.FirewallApplied && cur.ObservedRevision != next.Revision {
		var asked time.Time
		if v, ok := o.firewallAsked.LoadAndDelete(w.Id); ok && v.(firewallAsk).revision == next.Revision {
			asked = v.(firewallAsk).at
		} else if next.Revision == 1 && w.CreateTime != nil {
			asked = w.CreateTime.AsTime()
		}
		if !asked.IsZero() {
			o.metrics.firewallDelay.WithLabelValues(w.Provisioner).Observe(o.now().Sub(asked).Seconds())
		}
	}
	if (phase == workspace.FirewallApplied || phase == workspace.FirewallDegraded) && cur.Phase != next.Phase {
		o.metrics.firewall.WithLabelValues(w.Provisioner, next.Phase).Inc()
	}
}

// firewallAsk is when a firewall revision was accepted.
type firewallAsk struct {
	revision uint64
	at       time.Time
}
