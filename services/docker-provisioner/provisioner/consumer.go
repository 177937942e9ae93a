package provisioner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/workspace"
)

// consume turns every docker workspace event and firewall policy announcement
// into a queued reconcile of its workspace. Messages are acknowledged once
// queued: the reconcile reads the truth from KV and Docker, and the start-up
// resync covers anything queued by a process that then died.
func (p *Provisioner) consume(ctx context.Context) {
	for ctx.Err() == nil {
		err := event.Consume(ctx, p.js, event.ConsumerConfig{
			Durable:        p.cfg.Consumer,
			FilterSubjects: []string{event.WorkspaceFilter(workspace.ProvisionerDocker), event.FirewallPolicyFilter(workspace.ProvisionerDocker)},
			// The start-up resync covers the past; replaying the stream would only repeat it.
			DeliverNew: true,
		}, p.log, func(ctx context.Context, msg jetstream.Msg) error {
			id, ok := event.WorkspaceIDFromSubject(msg.Subject())
			if !ok {
				return event.Permanent(errors.New("unexpected subject " + msg.Subject()))
			}
			if _, _, typ, ok := event.ParseWorkspaceSubject(msg.Subject()); ok {
				ev := &eventsv1.WorkspaceEvent{}
				if err := proto.Unmarshal(msg.Data(), ev); err != nil {
					return event.Permanent(fmt.Errorf("decode workspace event: %w", err))
				}
				p.announce(id, ev.GetWorkspace().GetRevision(), typ == event.TypeDeleted)
			}
			p.traces.put(ctx, id)
			p.queue.Add(id)
			return nil
		})
		if err == nil || ctx.Err() != nil {
			return
		}
		p.log.Warn("event consumer failed, restarting", "consumer", p.cfg.Consumer, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// announcement is the newest record revision an event announced for a
// workspace, and when it came.
type announcement struct {
	revision uint64
	at       time.Time
}

// readLagWindow bounds how long a record older than its event's is taken
// for a lagging replica rather than the truth.
const readLagWindow = 30 * time.Second

// announce remembers the record revision an event carries; a deleted event
// (the record is gone for good) drops it.
func (p *Provisioner) announce(id string, revision uint64, deleted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if deleted {
		delete(p.announced, id)
		return
	}
	if revision > p.announced[id].revision {
		p.announced[id] = announcement{revision: revision, at: p.now()}
	}
}

// behind reports whether a record read at revision (0: not found) is older
// than one an event already announced: the KV read was answered by a
// replica that has not applied that write yet (JetStream direct gets may be
// served by any replica close to current, e.g. one catching up after a
// restart). The reconcile is then retried instead of converging to the old
// record, or forgetting a workspace whose create it has not seen. A
// difference that lasts past readLagWindow is taken as the truth.
func (p *Provisioner) behind(id string, revision uint64) error {
	p.mu.Lock()
	a, ok := p.announced[id]
	p.mu.Unlock()
	if !ok || revision >= a.revision || p.now().Sub(a.at) > readLagWindow {
		return nil
	}
	return fmt.Errorf("workspace %s read at revision %d, but an event announced revision %d: a NATS replica is behind", id, revision, a.revision)
}
