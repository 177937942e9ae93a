package provisioner

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/volume"

	"aileron.dev/pkg/workspace"
)

// orphan is an object labelled as ours whose workspace has no record.
type orphan struct {
	kind, name, id, workspace string
	created                   time.Time
}

// sweepOnce removes (or, in dry-run mode, logs) every container, network and
// volume of this instance whose workspace is not in the store and that is
// older than SweepGrace. Objects are listed before the store is read, so an
// object of a workspace created meanwhile always finds its record.
func (p *Provisioner) sweepOnce(ctx context.Context) {
	candidates, err := p.ownedObjects(ctx)
	if err != nil {
		p.log.Warn("orphan sweep list failed", "err", err)
		return
	}
	recs, err := p.store.List(ctx)
	if err != nil {
		p.log.Warn("orphan sweep store list failed", "err", err)
		return
	}
	live := map[string]bool{}
	for _, r := range recs {
		if workspace.Provisioner(r.GetWorkspace().GetProvisioner()) == workspace.ProvisionerDocker {
			live[r.Workspace.Id] = true
		}
	}
	cutoff := p.now().Add(-time.Duration(p.cfg.SweepGrace))
	// Containers first: networks and volumes in use cannot be removed.
	for _, kind := range []string{"container", "network", "volume"} {
		for _, o := range candidates {
			if o.kind != kind || live[o.workspace] || o.created.After(cutoff) {
				continue
			}
			p.removeOrphan(ctx, o)
		}
	}
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
		out = append(out, orphan{"container", name, c.ID, c.Labels[LabelWorkspaceID], time.Unix(c.Created, 0)})
	}
	ns, err := p.listNetworks(ctx, p.ownedFilter(""))
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		out = append(out, orphan{"network", n.Name, n.ID, n.Labels[LabelWorkspaceID], n.Created})
	}
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	vs, err := p.docker.VolumeList(cctx, volume.ListOptions{Filters: p.ownedFilter("")})
	if err != nil {
		return nil, err
	}
	for _, v := range vs.Volumes {
		created, _ := time.Parse(time.RFC3339, v.CreatedAt)
		out = append(out, orphan{"volume", v.Name, v.Name, v.Labels[LabelWorkspaceID], created})
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
