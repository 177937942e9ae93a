package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// InstanceKey is the key of the installation's instance id in
// bus.BucketSecrets.
const InstanceKey = bus.SecretDockerInstance

// legacyInstance is the instance every object was labelled with before the
// id was generated per installation.
const legacyInstance = "default"

// LoadInstance returns the installation's instance id, creating it if absent:
// every provisioner of one installation (one NATS) shares it, and a
// provisioner pointed at another NATS gets another one, so it neither sees
// nor sweeps this installation's objects. The first provisioner writes
// "default" (the label of objects from versions before the id) when the
// store already holds docker workspaces, an upgrade; otherwise a fresh
// random id.
func LoadInstance(ctx context.Context, js jetstream.JetStream, st *store.Store) (string, error) {
	v, err := bus.LoadOrCreateSecret(ctx, js, InstanceKey, func() ([]byte, error) {
		id, err := newInstance(ctx, st)
		return []byte(id), err
	})
	if err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	if id := string(v); labelValue.MatchString(id) {
		return id, nil
	}
	return "", fmt.Errorf("instance id %q in %s is not a valid label value", v, bus.BucketSecrets)
}

// newInstance picks the id of an installation that has none yet.
func newInstance(ctx context.Context, st *store.Store) (string, error) {
	recs, err := st.List(ctx)
	if err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	for _, r := range recs {
		if workspace.Provisioner(r.GetWorkspace().GetProvisioner()) == workspace.ProvisionerDocker {
			return legacyInstance, nil
		}
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "i-" + hex.EncodeToString(b), nil
}
