package event

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"aileron.dev/pkg/telemetry"
)

// ErrPermanent marks a handler error that retrying cannot fix: the message is
// terminated instead of redelivered.
var ErrPermanent = errors.New("permanent failure")

// Permanent wraps err so the consumer terminates the message.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Handler handles one message. nil acks it; an error wrapping ErrPermanent
// terminates it; any other error naks it with a delay for redelivery.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// ConsumerConfig describes a durable consumer named <service>-<purpose>.
type ConsumerConfig struct {
	Durable        string
	FilterSubjects []string
	// MaxDeliver bounds redeliveries (default 10); BackOff spaces them.
	MaxDeliver int
	BackOff    []time.Duration
	// AckWait is how long a handler may take before redelivery (default 60s).
	AckWait time.Duration
	// DeliverNew starts a new consumer at the end of the stream instead of the start.
	DeliverNew bool
}

// Consume creates or updates the durable consumer and runs h for every message
// until ctx ends. Messages are handled one at a time per consumer instance;
// several instances with the same durable share the work.
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, log *slog.Logger, h Handler) error {
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = 10
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 60 * time.Second
	}
	if cfg.BackOff == nil {
		cfg.BackOff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}
	}
	policy := jetstream.DeliverAllPolicy
	if cfg.DeliverNew {
		policy = jetstream.DeliverNewPolicy
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "AILERON", jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		FilterSubjects: cfg.FilterSubjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		DeliverPolicy:  policy,
		MaxDeliver:     cfg.MaxDeliver,
		BackOff:        cfg.BackOff,
		AckWait:        cfg.AckWait,
		MaxAckPending:  256,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // shut down before the consumer existed
		}
		return fmt.Errorf("create consumer %s: %w", cfg.Durable, err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	go func() {
		<-ctx.Done()
		iter.Stop()
	}()
	for {
		msg, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			log.Warn("consumer next failed", "consumer", cfg.Durable, "err", err)
			continue
		}
		handle(ctx, msg, h, cfg, log)
	}
}

// handle runs h on msg and settles it, in a "consume <subject>" span whose
// parent is the publish span the message headers carry, when tracing is on
// (the retry and termination logs then carry its trace_id).
func handle(ctx context.Context, msg jetstream.Msg, h Handler, cfg ConsumerConfig, log *slog.Logger) {
	if !telemetry.Enabled() {
		settle(ctx, msg, h(ctx, msg), cfg, log)
		return
	}
	ctx, span := telemetry.Tracer().Start(telemetry.Extract(ctx, msg.Headers()), "consume "+SpanSubject(msg.Subject()), trace.WithSpanKind(trace.SpanKindConsumer))
	if id, ok := WorkspaceIDFromSubject(msg.Subject()); ok {
		span.SetAttributes(telemetry.WorkspaceID(id))
	}
	err := h(ctx, msg)
	settle(ctx, msg, err, cfg, log)
	telemetry.End(span, err)
}

func settle(ctx context.Context, msg jetstream.Msg, err error, cfg ConsumerConfig, log *slog.Logger) {
	if err != nil {
		if id, ok := WorkspaceIDFromSubject(msg.Subject()); ok {
			log = log.With("workspace_id", id)
		}
	}
	switch {
	case err == nil:
		_ = msg.Ack()
	case errors.Is(err, ErrPermanent):
		log.ErrorContext(ctx, "message terminated", "consumer", cfg.Durable, "subject", msg.Subject(), "err", err)
		_ = msg.TermWithReason(err.Error())
	case ctx.Err() != nil:
		_ = msg.Nak()
	default:
		delay := time.Second
		if md, mdErr := msg.Metadata(); mdErr == nil && int(md.NumDelivered) <= len(cfg.BackOff) {
			delay = cfg.BackOff[md.NumDelivered-1]
		}
		log.WarnContext(ctx, "message will be retried", "consumer", cfg.Durable, "subject", msg.Subject(), "delay", delay, "err", err)
		_ = msg.NakWithDelay(delay)
	}
}

// ConsumeWorkspaces runs reconcile for the workspace of every message on the
// durable consumer: the level-triggered pattern every service follows, where
// an event only says which workspace to look at again.
func ConsumeWorkspaces(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, log *slog.Logger, reconcile func(ctx context.Context, id string) error) error {
	return Consume(ctx, js, cfg, log, func(ctx context.Context, msg jetstream.Msg) error {
		id, ok := WorkspaceIDFromSubject(msg.Subject())
		if !ok {
			return Permanent(errors.New("no workspace id in subject " + msg.Subject()))
		}
		return reconcile(ctx, id)
	})
}
