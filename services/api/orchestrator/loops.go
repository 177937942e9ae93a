package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// StatusConsumer is the durable consumer of provisioner and firewall reports.
const StatusConsumer = bus.ConsumerOrchestratorStatus

// Init loads the index and republishes events a crash left unpublished. Call
// it before serving requests, then Run.
func (o *Orchestrator) Init(ctx context.Context) error {
	w, err := o.store.Watch(ctx)
	if err != nil {
		return err
	}
	if err := o.loadIndex(ctx, w); err != nil {
		_ = w.Stop()
		return err
	}
	o.watcher = w
	if err := o.recoverOutbox(ctx); err != nil {
		return err
	}
	return o.migrateOwners(ctx)
}

// Run runs the background loops (index watch, report consumer, sweeper) until
// ctx ends.
func (o *Orchestrator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); o.followIndex(ctx, o.watcher) }()
	go func() { defer wg.Done(); o.consumeReports(ctx) }()
	go func() { defer wg.Done(); o.sweep(ctx) }()
	wg.Wait()
}

func (o *Orchestrator) loadIndex(ctx context.Context, w jetstream.KeyWatcher) error {
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return nil
			}
			o.applyEntry(e)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (o *Orchestrator) followIndex(ctx context.Context, w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				o.applyEntry(e)
			}
		case <-ctx.Done():
			return
		}
	}
}

func (o *Orchestrator) applyEntry(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		o.index.Remove(store.IDFromKey(e.Key()))
		return
	}
	rec, err := store.Decode(e)
	if err != nil {
		o.log.Error("undecodable workspace record", "workspace_id", store.IDFromKey(e.Key()), "key", e.Key(), "err", err)
		return
	}
	o.index.Put(rec.Workspace)
}

func (o *Orchestrator) consumeReports(ctx context.Context) {
	err := event.Consume(ctx, o.js, event.ConsumerConfig{
		Durable: StatusConsumer, FilterSubjects: []string{event.StatusFilter},
	}, o.log, func(ctx context.Context, msg jetstream.Msg) error {
		switch {
		case strings.HasSuffix(msg.Subject(), ".provisioner"):
			r := &eventsv1.StatusReport{}
			if err := proto.Unmarshal(msg.Data(), r); err != nil {
				return event.Permanent(fmt.Errorf("decode status report: %w", err))
			}
			return o.ApplyStatus(ctx, r)
		case strings.HasSuffix(msg.Subject(), ".firewall"):
			r := &eventsv1.FirewallReport{}
			if err := proto.Unmarshal(msg.Data(), r); err != nil {
				return event.Permanent(fmt.Errorf("decode firewall report: %w", err))
			}
			return o.ApplyFirewall(ctx, r)
		}
		return event.Permanent(errors.New("unknown status subject " + msg.Subject()))
	})
	if err != nil {
		o.log.Error("status consumer stopped", "err", err)
	}
}

// outboxWatch is how long the sweeper keeps looking at a workspace whose
// event it could not publish. A write whose answer was lost in a NATS
// failover may land after the sweeper's first read, and a read may come
// from a replica that is behind: one look that finds the stream current
// proves nothing. (JetStream's duplicate window, in which a repeated
// publish is dropped, is as long.)
const outboxWatch = 2 * time.Minute

// sweep fails workspaces past their deadline and retries failed publishes:
// for outboxWatch after a failure it publishes the record's last event
// whenever the stream does not hold it.
func (o *Orchestrator) sweep(ctx context.Context) {
	t := time.NewTicker(o.cfg.SweepInterval)
	defer t.Stop()
	pending := map[string]time.Time{} // workspace id → when its publish failed
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-o.unpublished:
			pending[id] = o.now()
		case <-t.C:
			o.expireDeadlines(ctx)
			if len(pending) > 0 {
				o.republish(ctx, pending)
			}
		}
	}
}

// republish publishes the last event of each pending workspace that the
// stream does not hold, and forgets those watched for outboxWatch.
func (o *Orchestrator) republish(ctx context.Context, pending map[string]time.Time) {
	st, err := o.js.Stream(ctx, bus.StreamName)
	if err != nil {
		o.log.Warn("outbox check failed, will retry", "err", err)
		return
	}
	for id, failed := range pending {
		rec, err := o.store.Get(ctx, id)
		if err == nil && !o.published(ctx, st, rec) {
			if err := o.send(ctx, rec); err != nil {
				o.log.Warn("event publish failed, will retry", "workspace_id", id, "err", err)
				continue
			}
			o.log.Info("republished event", "workspace_id", id, "sequence", rec.EventSequence)
		}
		if (err == nil || errors.Is(err, store.ErrNotFound)) && o.now().Sub(failed) > outboxWatch {
			delete(pending, id)
		}
	}
}

func (o *Orchestrator) expireDeadlines(ctx context.Context) {
	now := o.now()
	for _, w := range o.index.Snapshot() {
		if !pastDeadline(w, now) {
			continue
		}
		_, err := o.mutate(ctx, w.Id, "", func(w *workspacev1.Workspace) (change, error) {
			if !pastDeadline(w, now) {
				return noChange, nil
			}
			reason := fmt.Sprintf("%s did not finish within %s", w.State, o.cfg.Deadlines[workspace.State(w.State)])
			o.setState(w, workspace.StateFailed, reason)
			w.ErrorCode = string(errcode.DeadlineExceeded)
			return emit(event.TypeStateChanged), nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			o.log.Warn("deadline sweep failed", "workspace_id", w.Id, "err", err)
		}
	}
}

// pastDeadline reports whether w is in a transitional state past its deadline.
func pastDeadline(w *workspacev1.Workspace, now time.Time) bool {
	return workspace.State(w.State).Transitional() && w.StateDeadlineTime != nil && !now.Before(w.StateDeadlineTime.AsTime())
}

// recoverOutbox republishes the last event of every workspace whose event the
// stream does not have (a crash between the KV write and the publish).
func (o *Orchestrator) recoverOutbox(ctx context.Context) error {
	st, err := o.js.Stream(ctx, bus.StreamName)
	if err != nil {
		return fmt.Errorf("recover outbox: %w", err)
	}
	recs, err := o.store.List(ctx)
	if err != nil {
		return fmt.Errorf("recover outbox: %w", err)
	}
	for _, rec := range recs {
		if o.published(ctx, st, rec) {
			continue
		}
		o.log.Info("republishing unpublished event", "workspace_id", rec.Workspace.Id, "sequence", rec.EventSequence)
		o.publish(ctx, rec)
	}
	return nil
}

// published reports whether the stream holds the record's last event.
func (o *Orchestrator) published(ctx context.Context, st jetstream.Stream, rec *storev1.WorkspaceRecord) bool {
	if rec.LastEvent == nil {
		return true
	}
	w := rec.Workspace
	m, err := st.GetLastMsgForSubject(ctx, event.WorkspaceIDFilter(workspace.Provisioner(w.Provisioner), w.Id))
	if err != nil {
		return false
	}
	ev := &eventsv1.WorkspaceEvent{}
	return proto.Unmarshal(m.Data, ev) == nil && ev.Sequence >= rec.EventSequence
}
