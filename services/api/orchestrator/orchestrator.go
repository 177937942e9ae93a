// Package orchestrator owns the workspace lifecycle: it validates commands,
// applies the state machine, persists records with compare-and-swap in the
// JetStream KV bucket and publishes an event for every change. It never calls
// Docker or Kubernetes; provisioners report what they observe and the
// orchestrator applies those reports through the same state machine.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/workspace"
)

// Config holds the orchestrator's tunables.
type Config struct {
	// Provisioners accepted on create; the first is the default.
	Provisioners []workspace.Provisioner
	// Deadlines per transitional state; a workspace still in the state after it
	// becomes failed with DEADLINE_EXCEEDED.
	Deadlines map[workspace.State]time.Duration
	// SweepInterval is how often deadlines and unpublished events are checked.
	SweepInterval time.Duration
	// MaxWorkspacesPerOwner caps how many workspaces one owner may have (0: no
	// cap). Enforced by a compare-and-swap claim in the store, so it holds
	// across replicas.
	MaxWorkspacesPerOwner int
	// MigrateOwner maps an owner found in the store to the owner it is now
	// (auth.Authenticator.LegacyOwner); Init rewrites each record it changes.
	// Nil changes nothing.
	MigrateOwner func(owner string) string
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		Provisioners: []workspace.Provisioner{workspace.ProvisionerDocker, workspace.ProvisionerKubernetes},
		Deadlines: map[workspace.State]time.Duration{
			workspace.StateCreating:   10 * time.Minute,
			workspace.StateStarting:   5 * time.Minute,
			workspace.StateStopping:   5 * time.Minute,
			workspace.StateRestarting: 5 * time.Minute,
			workspace.StateDeleting:   5 * time.Minute,
		},
		SweepInterval: 5 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Provisioners) == 0 {
		return errors.New("orchestrator: at least one provisioner must be enabled")
	}
	for _, p := range c.Provisioners {
		if !p.Valid() {
			return fmt.Errorf("orchestrator: unknown provisioner %q", p)
		}
	}
	for _, s := range workspace.States {
		if s.Transitional() && c.Deadlines[s] <= 0 {
			return fmt.Errorf("orchestrator: deadline for %s must be positive", s)
		}
	}
	if c.SweepInterval <= 0 {
		return errors.New("orchestrator: sweep interval must be positive")
	}
	return nil
}

// Orchestrator is the workspace lifecycle service.
type Orchestrator struct {
	cfg   Config
	store *store.Store
	js    jetstream.JetStream
	index *Index
	log   *slog.Logger
	now   func() time.Time
	// unpublished receives ids whose event publish failed, for the sweeper.
	unpublished chan string
	watcher     jetstream.KeyWatcher
	metrics     *lifecycleMetrics
	// firewallAsked holds when this replica accepted each workspace's
	// current firewall revision (key id), for the time-to-applied histogram.
	firewallAsked sync.Map
}

// New builds an orchestrator. Call Run to start its background loops.
func New(cfg Config, js jetstream.JetStream, st *store.Store, log *slog.Logger) (*Orchestrator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Orchestrator{
		cfg: cfg, store: st, js: js, log: log, now: time.Now,
		index:       NewIndex(),
		unpublished: make(chan string, 1024),
		metrics:     newLifecycleMetrics(),
	}, nil
}

// Index returns the in-memory index of workspaces used by List and Watch.
func (o *Orchestrator) Index() *Index { return o.index }

// change says what a mutation did: nothing (an idempotent repeat), a write
// without an event (observed status only), or a write with an event.
type change struct {
	write bool
	event string
}

var (
	noChange  = change{}
	writeOnly = change{write: true}
)

func emit(eventType string) change { return change{write: true, event: eventType} }

// mutation changes a workspace in place.
type mutation func(w *workspacev1.Workspace) (change, error)

// mutate applies fn to the workspace's record; see mutateRecord.
func (o *Orchestrator) mutate(ctx context.Context, id string, service string, fn mutation) (*workspacev1.Workspace, error) {
	return o.mutateRecord(ctx, id, service, func(rec *storev1.WorkspaceRecord) (change, error) { return fn(rec.Workspace) })
}

// mutateRecord reads the record, applies fn and writes it back with
// compare-and-swap, retrying on a concurrent change so the state machine
// always decides on the latest record. A change of state opens or closes a
// transition of the timeline in the same write. The event goes into the
// record (outbox) and is then published.
func (o *Orchestrator) mutateRecord(ctx context.Context, id string, service string, fn func(rec *storev1.WorkspaceRecord) (change, error)) (*workspacev1.Workspace, error) {
	lagging := staleReads{}
	for attempt := 0; attempt < 16; attempt++ {
		rec, err := o.store.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			if _, known := o.index.Owner(id); known && lagging.wait(ctx) {
				// The index holds it (an acknowledged write or the watch put
				// it there), so this read came from a replica that is behind
				// (reads may be served by any replica of a clustered
				// bucket): read again rather than answer a 404 for a
				// workspace that exists.
				attempt--
				continue
			}
			return nil, NotFound(id)
		}
		if err != nil {
			return nil, storeUnavailable(err)
		}
		w := rec.Workspace
		rev := w.Revision
		from, fromDeadline := w.State, w.GetStateDeadlineTime()
		c, err := fn(rec)
		if err != nil {
			return nil, err
		}
		if !c.write {
			return w, nil
		}
		now := o.now()
		followTimeline(rec, workspace.State(from), now)
		w.UpdateTime = timestamppb.New(now)
		if c.event != "" {
			o.attachEvent(rec, c.event, service)
		}
		n, err := o.store.Update(ctx, rec, rev)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			// A write that timed out may still have been applied (its answer
			// lost in a NATS failover): the sweeper publishes the event of
			// whatever the record holds, or nothing new if it was not.
			if c.event != "" {
				o.retryPublish(id)
			}
			return nil, storeUnavailable(err)
		}
		w.Revision = n
		o.metrics.transition(from, deadlineOf(fromDeadline), w, o.cfg.Deadlines, o.now())
		if c.event != "" {
			o.publish(ctx, rec)
		} else {
			o.index.Put(w)
		}
		return w, nil
	}
	return nil, &Error{Kind: ErrConflict, Code: errcode.WorkspaceConflict, Message: "workspace " + id + " is changing too fast, retry"}
}

func deadlineOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// attachEvent records the next event of the workspace in the record.
func (o *Orchestrator) attachEvent(rec *storev1.WorkspaceRecord, typ, service string) {
	rec.EventSequence++
	rec.LastEvent = &eventsv1.WorkspaceEvent{
		Id:       fmt.Sprintf("%s-%d", rec.Workspace.Id, rec.EventSequence),
		Type:     typ,
		Sequence: rec.EventSequence,
		Service:  service,
		Time:     timestamppb.New(o.now()),
	}
}

// publish sends the record's last event. On failure the id is queued for the
// sweeper; the KV write already happened, so the command still succeeds.
func (o *Orchestrator) publish(ctx context.Context, rec *storev1.WorkspaceRecord) {
	o.index.Put(rec.Workspace)
	if err := o.send(ctx, rec); err != nil {
		o.log.WarnContext(ctx, "event publish failed, will retry", "workspace_id", rec.Workspace.Id, "err", err)
		o.retryPublish(rec.Workspace.Id)
	}
}

// retryPublish hands a workspace to the sweeper, which publishes the last
// event of its record (deduplicated by Nats-Msg-Id if it was sent after all).
func (o *Orchestrator) retryPublish(id string) {
	select {
	case o.unpublished <- id:
	default: // the queue is full; the start-up recovery pass still finds it
	}
}

// send publishes the record's last event stamped with the record as written.
func (o *Orchestrator) send(ctx context.Context, rec *storev1.WorkspaceRecord) error {
	ev := proto.Clone(rec.LastEvent).(*eventsv1.WorkspaceEvent)
	ev.Workspace = rec.Workspace
	w := rec.Workspace
	trace.SpanFromContext(ctx).SetAttributes(telemetry.WorkspaceID(w.Id)) // the request's span, when one records
	return event.Publish(ctx, o.js, event.WorkspaceSubject(workspace.Provisioner(w.Provisioner), w.Id, ev.Type), ev.Id, ev)
}

// setState moves w to state, with its reason and deadline.
func (o *Orchestrator) setState(w *workspacev1.Workspace, state workspace.State, reason string) {
	w.State = string(state)
	w.StateReason = reason
	if state != workspace.StateFailed {
		w.ErrorCode = ""
	}
	w.StateDeadlineTime = nil
	if state.Transitional() {
		w.StateDeadlineTime = timestamppb.New(o.now().Add(o.cfg.Deadlines[state]))
	}
}

// staleReads paces the re-reads of a record a lagging replica did not have
// yet: 50 ms doubling, about 3 s in all, then the read's answer stands.
type staleReads struct{ waited time.Duration }

func (r *staleReads) wait(ctx context.Context) bool {
	d := max(50*time.Millisecond, r.waited)
	if r.waited+d > 3*time.Second {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
	}
	r.waited += d
	return true
}
