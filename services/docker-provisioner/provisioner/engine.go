package provisioner

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
)

// watchEngine turns the engine's container events into reconciles: a
// container of this instance that dies or is removed behind the
// provisioner's back is repaired and reported within moments rather than at
// the next resync. A broken event stream is reopened after a pause (1 s,
// doubling to 30 s while the engine stays away), then a resync covers
// whatever it missed.
func (p *Provisioner) watchEngine(ctx context.Context) {
	pause := time.Second
	for {
		opened := p.now()
		err := p.followEngine(ctx)
		if ctx.Err() != nil {
			return
		}
		if p.now().Sub(opened) > 30*time.Second {
			pause = time.Second
		}
		p.log.Warn("docker event stream ended, reopening", "err", err, "retry_in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
		p.resync(ctx)
	}
}

// followEngine queues the workspace of every die and destroy event of this
// instance's containers until the stream fails or ctx ends.
func (p *Provisioner) followEngine(ctx context.Context) error {
	msgs, errs := p.docker.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", LabelManagedBy+"="+ManagedBy),
		filters.Arg("label", LabelInstance+"="+p.cfg.Instance),
		filters.Arg("event", string(events.ActionDie)),
		filters.Arg("event", string(events.ActionDestroy)),
	)})
	for {
		select {
		case m := <-msgs:
			if id := m.Actor.Attributes[LabelWorkspaceID]; id != "" {
				p.log.Debug("container event", "workspace_id", id, "action", m.Action, "container", m.Actor.Attributes["name"])
				p.queue.Add(id)
			}
		case err := <-errs:
			return err
		}
	}
}

// crashLoopError stops a pass that found a service exited too often.
type crashLoopError struct {
	service workspace.Service
	msg     string
}

func (e *crashLoopError) Error() string { return e.msg }

// crashes remembers, per workspace generation, when each service was found
// exited while the workspace was running.
type crashes struct {
	generation int64
	at         map[workspace.Service][]time.Time
}

// noteExit records that service's container c of a running workspace w was
// found exited, and returns a crashLoopError once that has happened
// CrashLimit times within CrashWindow. A start, stop or restart (a new
// generation) starts the count again.
func (p *Provisioner) noteExit(w *workspacev1.Workspace, service workspace.Service, c container.InspectResponse) error {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	cr := p.crashes[w.Id]
	if cr == nil || cr.generation != w.Generation {
		cr = &crashes{generation: w.Generation, at: map[workspace.Service][]time.Time{}}
		p.crashes[w.Id] = cr
	}
	window := time.Duration(p.cfg.CrashWindow)
	recent := []time.Time{now}
	for _, t := range cr.at[service] {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	cr.at[service] = recent
	exit := fmt.Sprintf("exited with code %d", c.State.ExitCode)
	if c.State.OOMKilled {
		exit += " (out of memory)"
	}
	p.log.Warn("service container exited, restarting", "workspace_id", w.Id, "service", service,
		"exit_code", c.State.ExitCode, "oom_killed", c.State.OOMKilled, "exits_in_window", len(recent))
	if len(recent) < p.cfg.CrashLimit {
		p.metrics.restarts.WithLabelValues(string(service)).Inc()
		return nil
	}
	return &crashLoopError{service: service, msg: fmt.Sprintf("%s %s %d times within %s; last at %s",
		service, exit, len(recent), window, c.State.FinishedAt)}
}
