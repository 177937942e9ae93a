package provisioner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
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
// engine holds objects labelled so for workspaces of this store, an upgrade;
// otherwise a fresh random id. The store alone does not tell: a workspace
// created before the first provisioner starts (aileron dev answers at once)
// is in the store of a new installation too.
func LoadInstance(ctx context.Context, js jetstream.JetStream, st *store.Store, d Docker) (string, error) {
	v, err := bus.LoadOrCreateSecret(ctx, js, InstanceKey, func() ([]byte, error) {
		id, err := newInstance(ctx, st, d)
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
func newInstance(ctx context.Context, st *store.Store, d Docker) (string, error) {
	recs, err := st.List(ctx)
	if err != nil {
		return "", fmt.Errorf("instance id: %w", err)
	}
	ours := map[string]bool{}
	for _, r := range recs {
		if w := r.GetWorkspace(); workspace.Provisioner(w.GetProvisioner()) == workspace.ProvisionerDocker {
			ours[w.GetId()] = true
		}
	}
	if len(ours) > 0 {
		legacy, err := d.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
			filters.Arg("label", LabelManagedBy+"="+ManagedBy), filters.Arg("label", LabelInstance+"="+legacyInstance))})
		if err != nil {
			return "", fmt.Errorf("instance id: list the engine's legacy containers: %w", err)
		}
		for _, c := range legacy {
			if ours[c.Labels[LabelWorkspaceID]] {
				return legacyInstance, nil
			}
		}
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "i-" + hex.EncodeToString(b), nil
}
