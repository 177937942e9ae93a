// Package provisioner is the k8s-provisioner: it turns the orchestrator's
// kubernetes workspace events into Workspace custom resources (server-side
// apply) and reports what the workspace-operator observed back to the
// orchestrator, so the API shows the truth.
package provisioner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/periodic"
	"aileron.dev/pkg/store"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// Names used on the objects the provisioner writes.
const (
	FieldManager        = "aileron-k8s-provisioner"
	Consumer            = "k8s-provisioner-events"
	AnnotationGen       = "aileron.dev/generation"
	AnnotationFirewall  = "aileron.dev/firewall-revision"
	AnnotationName      = "aileron.dev/name"
	LabelManagedByValue = "aileron-k8s-provisioner"
)

// Config configures the provisioner.
type Config struct {
	// Namespace holds the Workspace resources.
	Namespace string
	// ResyncInterval re-applies every kubernetes workspace and removes
	// Workspace resources no record owns (0 disables).
	ResyncInterval time.Duration
	// Images of the four services.
	Images Images
	// StorageSize of each workspace's volume (e.g. "10Gi"); empty keeps the CRD default.
	StorageSize string
	// StorageClassName for the volume; empty uses the cluster default.
	StorageClassName string
	// Resources per service ("runtime", "terminal", "browser", "canvas"), as
	// corev1.ResourceRequirements JSON objects; a missing service gets none.
	Resources map[string]map[string]any
}

// Images names the image of each workspace service.
type Images struct {
	Runtime, Terminal, Browser, Canvas string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Namespace == "" {
		return errors.New("k8s-provisioner: namespace is required")
	}
	if c.Images.Runtime == "" || c.Images.Terminal == "" || c.Images.Browser == "" || c.Images.Canvas == "" {
		return errors.New("k8s-provisioner: an image for each of runtime, terminal, browser and canvas is required")
	}
	return nil
}

// Provisioner converges Workspace resources to the records in the KV store.
type Provisioner struct {
	cfg   Config
	c     client.Client
	js    jetstream.JetStream
	store *store.Store
	log   *slog.Logger
}

// New builds a provisioner; c must know the v1alpha1 types.
func New(ctx context.Context, cfg Config, c client.Client, js jetstream.JetStream, log *slog.Logger) (*Provisioner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	return &Provisioner{cfg: cfg, c: c, js: js, store: st, log: log}, nil
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
		Durable: Consumer, FilterSubjects: []string{event.WorkspaceFilter("kubernetes")},
	}, p.log, p.Converge)
}

// Converge applies, or deletes, the Workspace resource of one workspace.
func (p *Provisioner) Converge(ctx context.Context, id string) error {
	rec, err := p.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return p.deleteResource(ctx, id)
	}
	if err != nil {
		return err
	}
	w := rec.Workspace
	if w.Provisioner != "kubernetes" {
		return nil
	}
	if w.DesiredState == "deleted" {
		if err := p.deleteResource(ctx, id); err != nil {
			return err
		}
		// The operator may still hold a finalizer; the status controller
		// reports "deleted" once the resource is really gone.
		return p.reportIfGone(ctx, w)
	}
	u := resource(p.cfg, w)
	if err := p.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply workspace %s: %w", id, err)
	}
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

func (p *Provisioner) reportIfGone(ctx context.Context, w *workspacev1.Workspace) error {
	ws := &v1alpha1.Workspace{}
	err := p.c.Get(ctx, client.ObjectKey{Namespace: p.cfg.Namespace, Name: w.Id}, ws)
	if apierrors.IsNotFound(err) {
		return p.publishStatus(ctx, deletedReport(w), "")
	}
	return err
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
		if r.Workspace.Provisioner != "kubernetes" {
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
		}
	}
	return nil
}

// resource renders the Workspace resource of w for server-side apply: only
// the fields this provisioner owns.
func resource(cfg Config, w *workspacev1.Workspace) *unstructured.Unstructured {
	desired := string(v1alpha1.DesiredStateRunning)
	if w.DesiredState == "stopped" {
		desired = string(v1alpha1.DesiredStateStopped)
	}
	svc := func(name string, s *workspacev1.ServiceStatus, image string) map[string]any {
		out := map[string]any{"enabled": s.GetEnabled(), "image": image}
		if r, ok := cfg.Resources[name]; ok {
			out["resources"] = r
		}
		return out
	}
	group := func(enabled bool, mode string, domains []string) map[string]any {
		d := make([]any, len(domains))
		for i, x := range domains {
			d[i] = x
		}
		return map[string]any{"networkAccessEnabled": enabled, "domainAccessMode": mode, "allowedDomains": d}
	}
	ops := map[string]any{}
	for k, ts := range map[string]*timestamppb.Timestamp{
		"restartWorkspaceAt": w.GetOperations().GetRestartWorkspaceTime(), "restartRuntimeAt": w.GetOperations().GetRestartRuntimeTime(),
		"restartTerminalAt": w.GetOperations().GetRestartTerminalTime(), "restartBrowserAt": w.GetOperations().GetRestartBrowserTime(),
		"restartCanvasAt": w.GetOperations().GetRestartCanvasTime(),
	} {
		if ts != nil {
			ops[k] = ts.AsTime().UTC().Format(time.RFC3339Nano)
		}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "Workspace",
		"metadata": map[string]any{
			"name": w.Id, "namespace": cfg.Namespace,
			"labels": map[string]any{
				v1alpha1.LabelPartOf: v1alpha1.PartOf, v1alpha1.LabelWorkspaceID: w.Id, v1alpha1.LabelManagedBy: LabelManagedByValue,
			},
			"annotations": map[string]any{
				AnnotationGen: strconv.FormatInt(w.Generation, 10), AnnotationFirewall: strconv.FormatUint(w.GetFirewallStatus().GetRevision(), 10),
				AnnotationName: w.Name,
			},
		},
		"spec": map[string]any{
			"workspaceId": w.Id, "owner": w.Owner, "desiredState": desired,
			"services": map[string]any{
				"runtime":  svc("runtime", w.GetServices().GetRuntime(), cfg.Images.Runtime),
				"terminal": svc("terminal", w.GetServices().GetTerminal(), cfg.Images.Terminal),
				"browser":  svc("browser", w.GetServices().GetBrowser(), cfg.Images.Browser),
				"canvas":   svc("canvas", w.GetServices().GetCanvas(), cfg.Images.Canvas),
			},
			"firewall": map[string]any{
				"workspace": group(w.WorkspaceFirewallNetworkAccessEnabled, w.WorkspaceFirewallDomainAccessMode, w.WorkspaceFirewallAllowedDomains),
				"browser":   group(w.BrowserFirewallNetworkAccessEnabled, w.BrowserFirewallDomainAccessMode, w.BrowserFirewallAllowedDomains),
			},
			"operations": ops,
		},
	}}
	storage := map[string]any{}
	if cfg.StorageSize != "" {
		storage["size"] = cfg.StorageSize
	}
	if cfg.StorageClassName != "" {
		storage["storageClassName"] = cfg.StorageClassName
	}
	if len(storage) > 0 {
		u.Object["spec"].(map[string]any)["storage"] = storage
	}
	return u
}
