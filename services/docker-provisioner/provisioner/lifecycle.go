package provisioner

import (
	"context"
	"errors"

	"github.com/docker/docker/api/types/container"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
)

// stop stops every container of w gracefully, services first, then the
// gateway, keeping containers, networks and volumes, and reports stopped.
// Containers that never existed (a stop after a failed create) are fine.
func (p *Provisioner) stop(ctx context.Context, w *workspacev1.Workspace) error {
	cs, err := p.listContainers(ctx, w.Id)
	if err != nil {
		return err
	}
	var services, gateways []container.Summary
	for _, c := range cs {
		if roleOf(c.Labels) == roleGateway {
			gateways = append(gateways, c)
		} else {
			services = append(services, c)
		}
	}
	stop := func(c container.Summary) error {
		target := c.Labels[LabelService]
		if roleOf(c.Labels) == roleGateway {
			target = gatewayTarget
		}
		t := p.now()
		if err := p.stopContainer(ctx, c.ID); err != nil {
			return err
		}
		if c.State == container.StateRunning {
			p.step(w, workspace.StepContainerStopped, target, t)
		}
		return nil
	}
	if err := parallel(services, stop); err != nil {
		return err
	}
	if err := parallel(gateways, stop); err != nil {
		return err
	}
	// A firewall update while stopped is written now and enforced on start
	// (nothing runs to be let out meanwhile).
	if len(gateways) == 1 {
		fp, _, err := p.applyPolicy(ctx, w.Id, gateways[0].ID)
		if err != nil {
			return err
		}
		if err := p.reportFirewall(ctx, w.Id, fp); err != nil {
			p.log.Warn("firewall report failed", "workspace_id", w.Id, "err", err)
		}
	}
	st := p.newStatus(enabledServices(w), workspace.ServiceStopped)
	return p.report(ctx, w, workspace.PhaseStopped, "all containers stopped; data kept", "", st)
}

// teardown removes every container, network and volume of workspace id,
// whatever state they are in (running, stopped, half-created).
func (p *Provisioner) teardown(ctx context.Context, id string) error {
	cs, err := p.listContainers(ctx, id)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if err := parallel(ids, func(cid string) error { return p.removeContainer(ctx, cid) }); err != nil {
		return err
	}
	if err := p.removeNetworks(ctx, id); err != nil {
		return err
	}
	if err := p.removeVolumes(ctx, id); err != nil {
		return err
	}
	p.log.Info("workspace resources removed", "workspace_id", id, "containers", len(ids))
	return nil
}

// removeNetworks removes every network of workspace id.
func (p *Provisioner) removeNetworks(ctx context.Context, id string) error {
	ns, err := p.listNetworks(ctx, p.ownedFilter(id))
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range ns {
		errs = append(errs, p.removeNetwork(ctx, n.ID))
	}
	return errors.Join(errs...)
}
