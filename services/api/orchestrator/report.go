package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
)

// Phases a provisioner reports.
const (
	PhaseRunning     = "running"
	PhaseStopped     = "stopped"
	PhaseDeleted     = "deleted"
	PhaseFailed      = "failed"
	PhaseProgressing = "progressing"
)

// reportTransitions maps a reported phase to the states it completes.
var reportTransitions = map[string]struct {
	from []string
	to   string
}{
	PhaseRunning: {from: []string{StateCreating, StateStarting, StateRestarting, StateFailed}, to: StateRunning},
	PhaseStopped: {from: []string{StateStopping, StateFailed}, to: StateStopped},
	PhaseFailed:  {from: []string{StateCreating, StateStarting, StateRestarting, StateStopping, StateDeleting, StateRunning}, to: StateFailed},
}

// ApplyStatus applies a provisioner's report through the state machine. A
// report about an older generation than the record's is stale and ignored.
func (o *Orchestrator) ApplyStatus(ctx context.Context, r *eventsv1.StatusReport) error {
	if err := ValidateID(r.GetWorkspaceId()); err != nil {
		return event.Permanent(err)
	}
	if r.GetPhase() == PhaseDeleted {
		return o.finishDelete(ctx, r)
	}
	_, err := o.mutate(ctx, r.GetWorkspaceId(), "", func(w *workspacev1.Workspace) (change, error) {
		if r.GetObservedGeneration() != w.Generation {
			return noChange, nil
		}
		c := noChange
		if r.GetServices() != nil && !proto.Equal(r.GetServices(), w.Services) {
			w.Services = mergeServices(w.Services, r.GetServices())
			c = writeOnly
		}
		if w.ObservedGeneration != r.GetObservedGeneration() {
			w.ObservedGeneration = r.GetObservedGeneration()
			c = writeOnly
		}
		if r.GetPhase() == PhaseRunning && r.GetServices() == nil {
			// The provisioner converged the generation that asked for the
			// restarts without detailing services: those restarts are done.
			for _, s := range serviceList(w.Services) {
				if s.State == ServiceRestarting {
					s.State = StateRunning
					c = writeOnly
				}
			}
		}
		t, ok := reportTransitions[r.GetPhase()]
		if !ok || !slices.Contains(t.from, w.State) || (w.State == t.to && w.StateReason == r.GetReason()) {
			return c, nil
		}
		if w.State == StateFailed && r.GetPhase() != PhaseFailed && !matchesDesired(w.DesiredState, t.to) {
			return c, nil
		}
		o.setState(w, t.to, r.GetReason())
		if t.to == StateFailed {
			w.ErrorCode = r.GetErrorCode()
			if w.ErrorCode == "" {
				w.ErrorCode = "PROVISIONER_FAILED"
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

func matchesDesired(desired, state string) bool {
	return (desired == DesiredRunning && state == StateRunning) || (desired == DesiredStopped && state == StateStopped)
}

// mergeServices keeps the orchestrator's enabled flags and fills in what the
// provisioner observed.
func mergeServices(cur, obs *workspacev1.Services) *workspacev1.Services {
	out := proto.Clone(cur).(*workspacev1.Services)
	for _, name := range []string{ServiceRuntime, ServiceTerminal, ServiceBrowser, ServiceCanvas} {
		o := serviceByName(obs, name)
		if o == nil {
			continue
		}
		s := serviceByName(out, name)
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
		if w.DesiredState != DesiredDeleted || r.GetObservedGeneration() != w.Generation {
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
		ev := &eventsv1.WorkspaceEvent{
			Id: fmt.Sprintf("%s-%d", id, rec.EventSequence+1), Type: event.TypeDeleted,
			Sequence: rec.EventSequence + 1, Workspace: w, Time: timestamppb.New(o.now()),
		}
		if err := event.Publish(ctx, o.js, event.WorkspaceSubject(w.Provisioner, id, ev.Type), ev.Id, ev); err != nil {
			o.log.Warn("deleted event publish failed", "workspace_id", id, "err", err)
		}
		o.log.Info("workspace deleted", "workspace_id", id)
		return nil
	}
	return fmt.Errorf("delete %s: too many concurrent changes", id)
}

// ApplyFirewall applies a firewall report; reports about an older settings
// revision are ignored.
func (o *Orchestrator) ApplyFirewall(ctx context.Context, r *eventsv1.FirewallReport) error {
	if err := ValidateID(r.GetWorkspaceId()); err != nil {
		return event.Permanent(err)
	}
	_, err := o.mutate(ctx, r.GetWorkspaceId(), "", func(w *workspacev1.Workspace) (change, error) {
		fs := w.FirewallStatus
		if r.GetRevision() != fs.Revision {
			return noChange, nil
		}
		next := proto.Clone(fs).(*workspacev1.FirewallStatus)
		// "applying" from the policy service must not undo an "applied" from the enforcer.
		if !(r.GetPhase() == FirewallApplying && fs.ObservedRevision == r.GetRevision()) {
			next.Phase = r.GetPhase()
			next.Message = r.GetMessage()
			next.ErrorCode = r.GetErrorCode()
		}
		if r.GetPhase() == FirewallApplied {
			next.ObservedRevision = r.GetRevision()
		}
		if r.GetPhase() == FirewallApplying || len(r.GetWorkspaceEffectiveAllowedDomains())+len(r.GetBrowserEffectiveAllowedDomains()) > 0 {
			next.WorkspaceEffectiveAllowedDomains = r.GetWorkspaceEffectiveAllowedDomains()
			next.BrowserEffectiveAllowedDomains = r.GetBrowserEffectiveAllowedDomains()
		}
		next.UpdateTime = fs.UpdateTime
		if proto.Equal(next, fs) {
			return noChange, nil
		}
		next.UpdateTime = timestamppb.New(o.now())
		w.FirewallStatus = next
		return writeOnly, nil
	})
	var de *Error
	if errors.As(err, &de) && errors.Is(de, ErrNotFound) {
		return nil
	}
	return err
}
