package provisioner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
)

// inspect returns a container by name or id; found is false if it does not exist.
func (p *Provisioner) inspect(ctx context.Context, name string) (c container.InspectResponse, found bool, err error) {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	c, err = p.docker.ContainerInspect(cctx, name)
	if cerrdefs.IsNotFound(err) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("inspect container %s: %w", name, err)
	}
	return c, true, nil
}

// ensureContainer creates the container of spec, or adopts an existing one
// whose spec hash matches, or replaces one whose hash differs (an old
// configuration or an older restart request). A name conflict during create
// (a concurrent or crashed create) is resolved by inspecting again. The
// container is connected to spec.Connect's networks but not started.
// exists says whether a list taken just before saw the name; when it did
// not, create is tried first and no inspect is needed. created says whether
// this call created the container (for the timeline).
func (p *Provisioner) ensureContainer(ctx context.Context, id string, spec *containerSpec, exists bool) (_ container.InspectResponse, created bool, _ error) {
	for attempt := range 4 {
		if attempt == 0 && !exists {
			cid, err := p.create(ctx, spec)
			if err == nil {
				c := container.InspectResponse{
					ContainerJSONBase: &container.ContainerJSONBase{ID: cid, Name: "/" + spec.Name, State: &container.State{}},
					Config:            spec.Config,
				}
				return c, true, p.connect(ctx, c, spec)
			}
			if !cerrdefs.IsConflict(err) {
				return container.InspectResponse{}, false, err
			}
		}
		c, found, err := p.inspect(ctx, spec.Name)
		if err != nil {
			return c, created, err
		}
		if !found {
			_, err := p.create(ctx, spec)
			if err != nil && !cerrdefs.IsConflict(err) {
				return c, created, err
			}
			created = created || err == nil
			continue
		}
		if !p.owned(c.Config.Labels, id) {
			return c, created, fmt.Errorf("container %s: %w", spec.Name, errNotOwned)
		}
		if c.Config.Labels[LabelSpecHash] != spec.hash {
			p.log.Info("replacing container", "workspace_id", id, "container", spec.Name,
				"have_hash", c.Config.Labels[LabelSpecHash], "want_hash", spec.hash)
			if err := p.removeContainer(ctx, c.ID); err != nil {
				return c, created, err
			}
			continue
		}
		return c, created, p.connect(ctx, c, spec)
	}
	return container.InspectResponse{}, created, fmt.Errorf("container %s: still conflicting after retries", spec.Name)
}

func (p *Provisioner) create(ctx context.Context, spec *containerSpec) (string, error) {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	host, nets := spec.forEngine()
	resp, err := p.docker.ContainerCreate(cctx, spec.Config, host, nets, nil, spec.Name)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	return resp.ID, nil
}

// connect attaches the container to the extra networks it is missing, which
// also completes a gateway whose creator died between create and connect.
func (p *Provisioner) connect(ctx context.Context, c container.InspectResponse, spec *containerSpec) error {
	for name, ep := range spec.Connect {
		if c.NetworkSettings != nil {
			if _, ok := c.NetworkSettings.Networks[name]; ok {
				continue
			}
		}
		cctx, cancel := p.timeout(ctx)
		err := p.docker.NetworkConnect(cctx, spec.netID(name), c.ID, ep)
		cancel()
		if err != nil && !cerrdefs.IsConflict(err) {
			return fmt.Errorf("connect %s to %s: %w", spec.Name, name, err)
		}
	}
	return nil
}

// start starts a container unless it is running.
func (p *Provisioner) start(ctx context.Context, c container.InspectResponse) error {
	if c.State != nil && c.State.Running {
		return nil
	}
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	if err := p.docker.ContainerStart(cctx, c.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", c.Name, err)
	}
	return nil
}

// stopContainer stops a container gracefully (SIGTERM, then SIGKILL after StopTimeout).
func (p *Provisioner) stopContainer(ctx context.Context, idOrName string) error {
	grace := stopSeconds(p.cfg.StopTimeout)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Duration(p.cfg.StopTimeout)+time.Duration(p.cfg.DockerTimeout))
	defer cancel()
	if err := p.docker.ContainerStop(cctx, idOrName, container.StopOptions{Timeout: grace}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: %w", idOrName, err)
	}
	return nil
}

// removeContainer force-removes a container (not its named volumes).
func (p *Provisioner) removeContainer(ctx context.Context, idOrName string) error {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	err := p.docker.ContainerRemove(cctx, idOrName, container.RemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !isRemovalInProgress(err) {
		return fmt.Errorf("remove container %s: %w", idOrName, err)
	}
	return nil
}

// listContainers lists the containers (running or not) of workspace id, or of
// every workspace of this instance when id is empty.
func (p *Provisioner) listContainers(ctx context.Context, id string) ([]container.Summary, error) {
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	cs, err := p.docker.ContainerList(cctx, container.ListOptions{All: true, Filters: p.ownedFilter(id)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return cs, nil
}

// parallel runs f for each item concurrently and joins the errors.
func parallel[T any](items []T, f func(T) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(items))
	for i, it := range items {
		wg.Go(func() { errs[i] = f(it) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// isRemovalInProgress recognises a concurrent removal of the same container.
func isRemovalInProgress(err error) bool {
	return strings.Contains(err.Error(), "is already in progress")
}
