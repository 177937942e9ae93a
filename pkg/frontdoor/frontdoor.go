// Package frontdoor holds what the API's front door and a workspace's
// ingress share: the control plane's front-door key, kept in the secrets
// bucket, and the per-workspace secret derived from it that proves a request
// to a workspace's ingress came through the front door.
package frontdoor

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"aileron.dev/pkg/bus"
)

// Header carries the workspace's ingress secret from the front door to the
// ingress, which checks it and strips it before anything reaches a service.
const Header = "X-Aileron-Ingress-Secret"

// keyName is the key's entry in the secrets bucket.
const keyName = bus.SecretFrontDoor

// Key is the control plane's front-door key (32 random bytes).
type Key []byte

// LoadKey returns the front-door key, creating it on first use. Concurrent
// first uses agree: one create wins and the others read its key.
func LoadKey(ctx context.Context, js jetstream.JetStream) (Key, error) {
	k, err := bus.LoadOrCreateSecret(ctx, js, keyName, func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("front-door key: %w", err)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("front-door key in %s has %d bytes, want 32", bus.BucketSecrets, len(k))
	}
	return Key(k), nil
}

// Derive returns a sub-key for one purpose (e.g. "ticket"), so one key
// never signs two kinds of thing.
func (k Key) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k)
	_, _ = m.Write([]byte("aileron/" + purpose))
	return m.Sum(nil)
}

// WorkspaceSecret is the ingress secret of workspace id: only holders of
// the key (the API and the provisioner) can compute it.
func (k Key) WorkspaceSecret(id string) string {
	m := hmac.New(sha256.New, k.Derive("ingress"))
	_, _ = m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}
