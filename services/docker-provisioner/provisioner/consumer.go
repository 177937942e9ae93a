package provisioner

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
		}, p.log, func(_ context.Context, msg jetstream.Msg) error {
			id, ok := event.WorkspaceIDFromSubject(msg.Subject())
			if !ok {
				return event.Permanent(errors.New("unexpected subject " + msg.Subject()))
			}
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
