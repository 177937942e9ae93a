package provisioner

import (
	"context"
	"errors"
	"time"

	"github.com/docker/docker/api/types/volume"

	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// orphan is an object labelled as ours whose workspace has no record.
type orphan struct {
	kind, name, id, workspace string
	created                   time.Time
	// data marks a workspace's data volume: user files.
	data bool
}

// sweepOnce removes (or, in dry-run mode, logs) every container, network and
// volume of this instance whose workspace is not in the store and that is
// older than SweepGrace. Objects are listed before the store is read, so an
// object of a workspace created meanwhile always finds its record; each
// candidate is read from the store once more right before it is removed.
// Data volumes are kept (and logged) unless SweepDataVolumes is set.
func (p *Provisioner) sweepOnce(ctx context.Context) { p.sweep(ctx, nil) }

// sweep is sweepOnce; afterList, when set, runs between the listing and the
// first removal (tests use it to create a record in that window).
func (p *Provisioner) sweep(ctx context.Context, afterList func()) {
	candidates, err := p.ownedObjects(ctx)
	if err != nil {
		p.log.Warn("orphan sweep list failed", "err", err)
		return
	}
	// A listing that ended early is an error (store.ErrListIncomplete): the
	// pass is skipped rather than reading missing records as orphans.
	recs, err := p.store.List(ctx)
	if err != nil {
		p.log.Warn("orphan sweep store list failed, pass skipped", "err", err)
		return
	}
	live := map[string]bool{}
	for _, r := range recs {
		if workspace.Provisioner(r.GetWorkspace().GetProvisioner()) == workspace.ProvisionerDocker {
			live[r.Workspace.Id] = true
		}
	}
	if afterList != nil {
		afterList()
	}
	cutoff := p.now().Add(-time.Duration(p.cfg.SweepGrace))
	var kept []string
	// Containers first: networks and volumes in use cannot be removed.
	for _, kind := range []string{"container", "network", "volume"} {
		for _, o := range candidates {
			if o.kind != kind || live[o.workspace] || o.created.After(cutoff) {
				continue
			}
			if o.data && !p.cfg.SweepDataVolumes {
				kept = append(kept, o.name)
				continue
			}
			if !p.stillOrphan(ctx, o.workspace) {
				live[o.workspace] = true
				continue
			}
			p.removeOrphan(ctx, o)
		}
	}
	if len(kept) > 0 {
		p.log.Warn("orphan sweep kept data volumes of workspaces that have no record; remove them by hand or set sweep_data_volumes",
			"count", len(kept), "volumes", kept)
	}
}

// stillOrphan reads the record of workspace id once more: true only when the
// store answers that it does not exist (or is not a docker workspace). A
// workspace created since the listing, or a store that does not answer,
// keeps its objects.
func (p *Provisioner) stillOrphan(ctx context.Context, id string) bool {
	rec, err := p.store.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return true
	case err != nil:
		p.log.Warn("orphan sweep re-check failed, objects kept", "workspace_id", id, "err", err)
		return false
	}
	if workspace.Provisioner(rec.GetWorkspace().GetProvisioner()) == workspace.ProvisionerDocker {
		p.log.Info("orphan sweep: workspace appeared since the listing, objects kept", "workspace_id", id)
		return false
	}
	return true
}

func (p *Provisioner) removeOrphan(ctx context.Context, o orphan) {
	if p.cfg.SweepDryRun {
		p.log.Info("orphan sweep dry run: would remove", "kind", o.kind, "name", o.name, "workspace_id", o.workspace, "created", o.created)
		return
	}
	var err error
	switch o.kind {
	case "container":
		err = p.removeContainer(ctx, o.id)
	case "network":
		err = p.removeNetwork(ctx, o.id)
	case "volume":
		err = p.removeVolume(ctx, o.name)
	}
	if err != nil {
		p.log.Warn("orphan removal failed", "kind", o.kind, "name", o.name, "workspace_id", o.workspace, "err", err)
		return
	}
	p.metrics.orphans.WithLabelValues(o.kind).Inc()
	p.log.Info("orphan removed", "kind", o.kind, "name", o.name, "workspace_id", o.workspace)
}

// ownedObjects lists every container, network and volume of this instance
// that belongs to a workspace.
func (p *Provisioner) ownedObjects(ctx context.Context) ([]orphan, error) {
	var out []orphan
	cs, err := p.listContainers(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		name := c.ID
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		out = append(out, orphan{kind: "container", name: name, id: c.ID, workspace: c.Labels[LabelWorkspaceID], created: time.Unix(c.Created, 0)})
	}
	ns, err := p.listNetworks(ctx, p.ownedFilter(""))
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		out = append(out, orphan{kind: "network", name: n.Name, id: n.ID, workspace: n.Labels[LabelWorkspaceID], created: n.Created})
	}
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	vs, err := p.docker.VolumeList(cctx, volume.ListOptions{Filters: p.ownedFilter("")})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Volumes {
		created, _ := time.Parse(time.RFC3339, v.CreatedAt)
		ws := v.Labels[LabelWorkspaceID]
		// A volume counts as data unless its labels say it is the gateway's
		// config volume: one of unknown role is kept like user files.
		data := roleOf(v.Labels) != roleGatewayFS || v.Name == VolumeName(ws)
		out = append(out, orphan{kind: "volume", name: v.Name, id: v.Name, workspace: ws, created: created, data: data})
	}
	// Objects without a workspace label (none are created) are never orphans.
	kept := out[:0]
	for _, o := range out {
		if o.workspace != "" {
			kept = append(kept, o)
		}
	}
	return kept, nil
}
