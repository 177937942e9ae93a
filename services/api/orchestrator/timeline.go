package orchestrator

import (
	"context"
	"errors"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// A workspace's timeline is the list of its last lifecycle transitions, kept
// in its record and written in the same compare-and-swap as the state it
// follows. Three rules, one function each:
//   - a change into a transitional state opens a transition whose first step
//     is "requested" (openTransition);
//   - the steps a provisioner reports for that generation or a later one join
//     the open transition, each once (addSteps);
//   - a change into a stable state closes it with a step named after that
//     state, from the end of the last step to the write (closeTransition).

// timelineReporter is the reporter of the steps the orchestrator writes.
const timelineReporter = "orchestrator"

// Timeline returns the workspace with id and its last transitions, oldest first.
func (o *Orchestrator) Timeline(ctx context.Context, id string) (*workspacev1.Workspace, []*workspacev1.Transition, error) {
	if err := ValidateID(id); err != nil {
		return nil, nil, err
	}
	rec, err := o.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, NotFound(id)
	}
	if err != nil {
		return nil, nil, storeUnavailable(err)
	}
	return rec.Workspace, rec.Transitions, nil
}

// followTimeline opens or closes a transition when a write moves the
// workspace from state from to another state.
func followTimeline(rec *storev1.WorkspaceRecord, from workspace.State, now time.Time) {
	to := workspace.State(rec.Workspace.State)
	if to == from {
		return
	}
	if to.Transitional() {
		openTransition(rec, to, rec.Workspace.Generation, now)
		return
	}
	closeTransition(rec, to, now)
}

// openTransition starts a transition through state at generation gen; one
// still open is cut short (its result is the new state). The oldest
// transitions beyond MaxTransitions are dropped.
func openTransition(rec *storev1.WorkspaceRecord, state workspace.State, gen int64, now time.Time) {
	if t := openOf(rec); t != nil {
		t.Result, t.EndTime = string(state), timestamppb.New(now)
	}
	rec.Transitions = append(rec.Transitions, &workspacev1.Transition{
		State: string(state), Generation: gen, StartTime: timestamppb.New(now),
		Steps: []*workspacev1.TimelineStep{{
			Name: string(workspace.StepRequested), StartTime: timestamppb.New(now),
			Duration: durationpb.New(0), Reporter: timelineReporter,
		}},
	})
	if n := len(rec.Transitions) - workspace.MaxTransitions; n > 0 {
		rec.Transitions = slices.Clone(rec.Transitions[n:])
	}
}

// addSteps adds a provisioner's finished steps of generation gen to the open
// transition, each (name, target) once, keeping room for the closing step.
// The requested step stays first and lasts until the earliest provisioner
// step began. It reports whether anything was added.
func addSteps(rec *storev1.WorkspaceRecord, gen int64, steps []*workspacev1.TimelineStep) bool {
	t := openOf(rec)
	if t == nil || gen < t.Generation {
		return false
	}
	added := false
	for _, s := range steps {
		if len(t.Steps) >= workspace.MaxTransitionSteps-1 {
			break
		}
		if !validStep(s) || slices.ContainsFunc(t.Steps, func(x *workspacev1.TimelineStep) bool {
			return x.Name == s.Name && x.Target == s.Target
		}) {
			continue
		}
		t.Steps = append(t.Steps, proto.Clone(s).(*workspacev1.TimelineStep))
		added = true
	}
	if !added {
		return false
	}
	rest := t.Steps[1:]
	slices.SortStableFunc(rest, func(a, b *workspacev1.TimelineStep) int {
		return a.StartTime.AsTime().Compare(b.StartTime.AsTime())
	})
	req := t.Steps[0]
	req.Duration = durationpb.New(max(0, rest[0].StartTime.AsTime().Sub(req.StartTime.AsTime())))
	return true
}

// closeTransition ends the open transition in state: its last step, named
// after the state, runs from the end of the latest step (the provisioner
// reporting) to now (the orchestrator recording it).
func closeTransition(rec *storev1.WorkspaceRecord, state workspace.State, now time.Time) {
	t := openOf(rec)
	if t == nil {
		return
	}
	last := t.StartTime.AsTime()
	for _, s := range t.Steps {
		last = maxTime(last, stepEnd(s))
	}
	last = minTime(last, now)
	t.Steps = append(t.Steps, &workspacev1.TimelineStep{
		Name: string(state), StartTime: timestamppb.New(last), Duration: durationpb.New(now.Sub(last)), Reporter: timelineReporter,
	})
	t.Result, t.EndTime = string(state), timestamppb.New(now)
}

// openOf returns the last transition if it is still under way.
func openOf(rec *storev1.WorkspaceRecord) *workspacev1.Transition {
	if n := len(rec.Transitions); n > 0 && rec.Transitions[n-1].Result == "" {
		return rec.Transitions[n-1]
	}
	return nil
}

// validStep accepts a reported step with a short name and target, a start
// and a non-negative duration.
func validStep(s *workspacev1.TimelineStep) bool {
	return s.GetName() != "" && len(s.Name) <= 64 && len(s.Target) <= 256 && len(s.Reporter) <= 64 &&
		s.StartTime.IsValid() && s.Duration.IsValid() && s.Duration.AsDuration() >= 0
}

func stepEnd(s *workspacev1.TimelineStep) time.Time {
	return s.StartTime.AsTime().Add(s.Duration.AsDuration())
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
