package event

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"aileron.dev/pkg/telemetry"
)

// Publish sends m on subject and waits for the stream's acknowledgement. msgID
// becomes the Nats-Msg-Id header, so a retried publish within the stream's
// duplicate window is stored once. The publish is a span ("publish
// <subject without the workspace id>") whose context the message headers
// carry to its consumers.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID string, m proto.Message) (err error) {
	if telemetry.Enabled() {
		var span trace.Span
		ctx, span = telemetry.Tracer().Start(ctx, "publish "+SpanSubject(subject), trace.WithSpanKind(trace.SpanKindProducer))
		if id, ok := WorkspaceIDFromSubject(subject); ok {
			span.SetAttributes(telemetry.WorkspaceID(id))
		}
		defer func() { telemetry.End(span, err) }()
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", subject, err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/protobuf")
	msg.Header.Set("Aileron-Type", string(m.ProtoReflect().Descriptor().FullName()))
	telemetry.Inject(ctx, msg.Header)
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}
