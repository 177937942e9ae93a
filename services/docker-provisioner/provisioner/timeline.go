package provisioner

import (
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
)

// stepLog holds the timeline steps this process finished for one generation
// of a workspace. Every status report carries them (StatusReport.steps) and
// the orchestrator adds each to the workspace's timeline once, so a step
// repeated by a later pass (an existing volume, a running container) keeps
// its first, real duration.
type stepLog struct {
	generation int64
	steps      []*workspacev1.TimelineStep
}

// step records that a step of w's current generation, begun at start, has
// just finished. Each (name, target) is recorded once per generation, and at
// most MaxTransitionSteps-2 (the orchestrator adds requested and the
// closing step).
func (p *Provisioner) step(w *workspacev1.Workspace, name workspace.Step, target string, start time.Time) {
	end := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.steps[w.Id]
	if l == nil || l.generation != w.Generation {
		l = &stepLog{generation: w.Generation}
		p.steps[w.Id] = l
	}
	if len(l.steps) >= workspace.MaxTransitionSteps-2 || slices.ContainsFunc(l.steps, func(s *workspacev1.TimelineStep) bool {
		return s.Name == string(name) && s.Target == target
	}) {
		return
	}
	l.steps = append(l.steps, &workspacev1.TimelineStep{
		Name: string(name), Target: target, StartTime: timestamppb.New(start),
		Duration: durationpb.New(max(0, end.Sub(start))), Reporter: Reporter,
	})
}

// stepsOf returns the steps recorded for w's current generation.
func (p *Provisioner) stepsOf(w *workspacev1.Workspace) []*workspacev1.TimelineStep {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.steps[w.Id]; l != nil && l.generation == w.Generation {
		return slices.Clone(l.steps)
	}
	return nil
}
