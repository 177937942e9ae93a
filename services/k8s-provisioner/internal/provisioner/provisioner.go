// Package provisioner is the k8s-provisioner. Two parts run side by side:
// the Provisioner consumes the orchestrator's kubernetes workspace events and
// turns them into Workspace custom resources (server-side apply); the
// Reporter watches those resources and reports what the workspace-operator
// observed back to the orchestrator, so the API shows the truth.
package provisioner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/periodic"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/kubecall"
)

// Names the provisioner is known by: on the objects it writes, on the bus
// and in its reports. The annotations it writes are v1alpha1's.
const (
	// FieldManager owns the fields of a Workspace the provisioner applies.
	FieldManager = "aileron-k8s-provisioner"
	// Consumer is the durable consumer of kubernetes workspace events.
	Consumer = bus.ConsumerK8sProvisioner
	// LabelManagedByValue is the v1alpha1.LabelManagedBy value of the
	// Workspaces the provisioner writes; the orphan sweep selects by it.
	LabelManagedByValue = "aileron-k8s-provisioner"
	// ReporterName is the reporter field of every report.
	ReporterName = "k8s-provisioner"
)

// Config configures the provisioner.
type Config struct {
	// Namespace holds the Workspace resources.
	Namespace string
	// ResyncInterval re-applies every kubernetes workspace and removes
	// Workspace resources no record owns (0 disables).
	ResyncInterval time.Duration
	// Images of the four services. The provisioner sets only the image of
	// each service in a Workspace (the operator owns ports, and Kubernetes
	// takes compute resources in its own form, Resources), so it holds the
	// shared per-service shape of just that setting.
	Images workspace.PerService[string]
	// StorageSize of each workspace's volume (e.g. "10Gi"); empty keeps the CRD default.
	StorageSize string
	// StorageClassName for the volume; empty uses the cluster default.
	StorageClassName string
	// Resources per service ("runtime", "terminal", "browser", "canvas"), as
	// corev1.ResourceRequirements JSON objects; a missing service gets none.
	Resources map[string]map[string]any
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Namespace == "" {
		return errors.New("k8s-provisioner: namespace is required")
	}
	for _, s := range workspace.Services {
		if *c.Images.Get(s) == "" {
			return errors.New("k8s-provisioner: an image for each of runtime, terminal, browser and canvas is required")
		}
	}
	for name := range c.Resources {
		if !workspace.Service(name).Valid() {
			return fmt.Errorf("k8s-provisioner: resources of unknown service %q", name)
		}
		if _, err := c.resources(workspace.Service(name)); err != nil {
			return fmt.Errorf("k8s-provisioner: %w", err)
		}
	}
	if _, err := c.storage(); err != nil {
		return fmt.Errorf("k8s-provisioner: %w", err)
	}
	return nil
}

// Provisioner is the event consumer: it converges Workspace resources to the
// records in the KV store.
type Provisioner struct {
	cfg      Config
	c        client.Client
	js       jetstream.JetStream
	store    *store.Store
	reporter *Reporter
	log      *slog.Logger
	metrics  *provMetrics
}

// New builds a provisioner; c must know the v1alpha1 types. reporter reports
// a deleted workspace whose resource is gone before the Reporter could see it
// go.
func New(ctx context.Context, cfg Config, c client.Client, js jetstream.JetStream, reporter *Reporter, log *slog.Logger) (*Provisioner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	m := newProvMetrics()
	return &Provisioner{cfg: cfg, c: kubecall.Wrap(c, m.calls), js: js, store: st, reporter: reporter, log: log, metrics: m}, nil
}

// Run consumes kubernetes workspace events until ctx ends.
func (p *Provisioner) Run(ctx context.Context) error {
	if p.cfg.ResyncInterval > 0 {
		go periodic.Run(ctx, p.cfg.ResyncInterval, func(ctx context.Context) {
			if err := p.Resync(ctx); err != nil {
				p.log.Warn("k8s resync failed", "err", err)
			}
		})
	}
	return event.ConsumeWorkspaces(ctx, p.js, event.ConsumerConfig{
		Durable: Consumer, FilterSubjects: []string{event.WorkspaceFilter(workspace.ProvisionerKubernetes)},
	}, p.log, p.Converge)
}

// Converge applies, or deletes, the Workspace resource of one workspace.
func (p *Provisioner) Converge(ctx context.Context, id string) error {
	start := time.Now()
	err := p.converge(ctx, id)
	p.metrics.reconciled(err, time.Since(start))
	return err
}

func (p *Provisioner) converge(ctx context.Context, id string) error {
	rec, err := p.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return p.deleteResource(ctx, id)
	}
	if err != nil {
		return err
	}
	w := rec.Workspace
	if workspace.Provisioner(w.Provisioner) != workspace.ProvisionerKubernetes {
		return nil
	}
	if workspace.Desired(w.DesiredState) == workspace.DesiredDeleted {
		if err := p.deleteResource(ctx, id); err != nil {
			return err
		}
		p.log.DebugContext(ctx, "workspace resource deleted", "workspace_id", id, "generation", w.Generation)
		// The operator may still hold a finalizer; the Reporter reports
		// deleted once the resource is really gone.
		return p.reporter.ReportIfGone(ctx, w)
	}
	ws, err := resource(p.cfg, w)
	if err != nil {
		return event.Permanent(fmt.Errorf("workspace %s: %w", id, err))
	}
	if tp := p.traceparent(ctx, w); tp != "" {
		ws.Annotations[v1alpha1.AnnotationTraceparent] = tp
	}
	u, err := applyObject(ws)
	if err != nil {
		return event.Permanent(err)
	}
	if err := p.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply workspace %s: %w", id, err)
	}
	p.log.DebugContext(ctx, "workspace resource applied", "workspace_id", id, "generation", w.Generation, "desired_state", w.DesiredState)
	return nil
}

func (p *Provisioner) deleteResource(ctx context.Context, id string) error {
	ws := &v1alpha1.Workspace{}
	ws.Name, ws.Namespace = id, p.cfg.Namespace
	if err := p.c.Delete(ctx, ws); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete workspace %s: %w", id, err)
	}
	return nil
}

// Resync reconciles every kubernetes workspace and removes Workspace
// resources whose record is gone (the orphan sweep).
func (p *Provisioner) Resync(ctx context.Context) error {
	recs, err := p.store.List(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, r := range recs {
		if workspace.Provisioner(r.Workspace.Provisioner) != workspace.ProvisionerKubernetes {
			continue
		}
		known[r.Workspace.Id] = true
		if err := p.Converge(ctx, r.Workspace.Id); err != nil {
			p.log.Warn("k8s reconcile failed", "workspace_id", r.Workspace.Id, "err", err)
		}
	}
	var list v1alpha1.WorkspaceList
	if err := p.c.List(ctx, &list, client.InNamespace(p.cfg.Namespace), client.MatchingLabels{v1alpha1.LabelManagedBy: LabelManagedByValue}); err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	for i := range list.Items {
		if id := list.Items[i].Name; !known[id] {
			p.log.Info("removing orphaned workspace resource", "workspace_id", id)
			if err := p.deleteResource(ctx, id); err != nil {
				return err
			}
			p.metrics.orphans.WithLabelValues("Workspace").Inc()
		}
	}
	return nil
}
