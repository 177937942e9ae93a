package provisioner

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/volume"
)

// ensureVolumes creates (or finds) the data volume and the gateway's policy
// volume of workspace id. Creating a named volume that exists returns it, so
// this is idempotent; a volume of that name that is not ours is refused.
func (p *Provisioner) ensureVolumes(ctx context.Context, id string) error {
	type vol struct {
		name string
		r    role
	}
	return parallel([]vol{{VolumeName(id), roleData}, {gatewayVolumeName(id), roleGatewayFS}}, func(v vol) error {
		return p.ensureVolume(ctx, id, v.name, v.r)
	})
}

func (p *Provisioner) ensureVolume(ctx context.Context, id, name string, r role) error {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	v, err := p.docker.VolumeCreate(cctx, volume.CreateOptions{Name: name, Driver: "local", Labels: p.roleLabels(id, r)})
	if err != nil {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	if !p.owned(v.Labels, id) {
		return fmt.Errorf("volume %s: %w", name, errNotOwned)
	}
	return nil
}

// removeVolumes removes every volume of workspace id.
func (p *Provisioner) removeVolumes(ctx context.Context, id string) error {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	resp, err := p.docker.VolumeList(cctx, volume.ListOptions{Filters: p.ownedFilter(id)})
	if err != nil {
		return fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range resp.Volumes {
		if err := p.removeVolume(ctx, v.Name); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provisioner) removeVolume(ctx context.Context, name string) error {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	if err := p.docker.VolumeRemove(cctx, name, true); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}
