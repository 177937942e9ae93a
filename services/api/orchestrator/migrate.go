package orchestrator

import (
	"context"
	"math"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
)

// migrateOwners rewrites every owner that cfg.MigrateOwner maps to another
// (owners recorded before they named their kind). For each record it claims
// the name and a quota place under the new owner, switches the record with
// compare-and-swap, then drops the old claims: a crash anywhere leaves a
// record that the next start migrates again, or old claims held by a
// workspace no caller can be anymore. A workspace whose name the new owner
// already uses keeps its old owner and is logged; an admin can rename it.
func (o *Orchestrator) migrateOwners(ctx context.Context) error {
	if o.cfg.MigrateOwner == nil {
		return nil
	}
	for _, w := range o.index.Snapshot() {
		from := w.Owner
		to := o.cfg.MigrateOwner(from)
		if to == from {
			continue
		}
		if err := o.migrateOwner(ctx, w, from, to); err != nil {
			return err
		}
	}
	return nil
}

func (o *Orchestrator) migrateOwner(ctx context.Context, w *workspacev1.Workspace, from, to string) error {
	log := o.log.With("workspace_id", w.Id, "from", from, "to", to)
	if err := o.store.ClaimName(ctx, to, w.Name, w.Id, o.now()); err != nil {
		log.Warn("owner not migrated: the new owner's name claim failed", "name", w.Name, "err", err)
		return nil
	}
	if o.cfg.MaxWorkspacesPerOwner > 0 {
		// The workspace existed under the old owner: it counts, whatever the cap.
		if err := o.store.ClaimQuota(ctx, to, w.Id, math.MaxInt, o.now()); err != nil {
			return storeUnavailable(err)
		}
	}
	_, err := o.mutate(ctx, w.Id, "", func(w *workspacev1.Workspace) (change, error) {
		if w.Owner != from {
			return noChange, nil
		}
		w.Owner = to
		return writeOnly, nil
	})
	if err != nil {
		return err
	}
	if err := o.store.ReleaseName(ctx, from, w.Name, w.Id); err != nil {
		return storeUnavailable(err)
	}
	if err := o.store.ReleaseQuota(ctx, from, w.Id); err != nil {
		return storeUnavailable(err)
	}
	log.Info("owner migrated")
	return nil
}
