package event

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Publish sends m on subject and waits for the stream's acknowledgement. msgID
// becomes the Nats-Msg-Id header, so a retried publish within the stream's
// duplicate window is stored once.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID string, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", subject, err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/protobuf")
	msg.Header.Set("Aileron-Type", string(m.ProtoReflect().Descriptor().FullName()))
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}
