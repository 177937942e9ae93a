package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
)

// Reporter watches the Workspace resources the provisioner writes and
// publishes what the operator observed of each as a StatusReport and a
// FirewallReport. It runs as a controller of a manager (SetupWithManager);
// the manager's cache is its watch.
type Reporter struct {
	namespace string
	c         client.Client
	js        jetstream.JetStream
	store     *store.Store
}

// NewReporter builds a reporter of the Workspaces in namespace; c must know
// the v1alpha1 types.
func NewReporter(ctx context.Context, namespace string, c client.Client, js jetstream.JetStream) (*Reporter, error) {
	if namespace == "" {
		return nil, errors.New("k8s-provisioner: namespace is required")
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	return &Reporter{namespace: namespace, c: c, js: js, store: st}, nil
}

// SetupWithManager registers the reporter as a controller of mgr, which runs
// it from mgr.Start.
func (r *Reporter) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("workspace-status-reporter").
		WithLogConstructor(controller.LogConstructor(mgr.GetLogger(), "workspace-status-reporter")).
		For(&v1alpha1.Workspace{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == r.namespace && o.GetLabels()[v1alpha1.LabelManagedBy] == LabelManagedByValue
		}))).
		Complete(r)
}

// Reconcile implements reconcile.Reconciler: it reports one Workspace
// resource, or the deletion of a workspace whose resource is gone.
func (r *Reporter) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, err error) {
	ws := &v1alpha1.Workspace{}
	err = r.c.Get(ctx, req.NamespacedName, ws)
	if apierrors.IsNotFound(err) {
		rec, err := r.store.Get(ctx, req.Name)
		if errors.Is(err, store.ErrNotFound) {
			return ctrl.Result{}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		if workspace.Desired(rec.Workspace.DesiredState) == workspace.DesiredDeleted {
			return ctrl.Result{}, r.publishStatus(ctx, deletedReport(rec.Workspace), "")
		}
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	status, fw := statusReport(ws), firewallReport(ws)
	if status == nil && fw == nil {
		return ctrl.Result{}, nil // nothing to say yet: no span, no read
	}
	ctx, span := r.startReport(ctx, ws)
	defer func() { telemetry.End(span, err) }()
	if err := r.publishStatus(ctx, status, ws.ResourceVersion); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.publishFirewall(ctx, fw, ws.ResourceVersion)
}

// ReportIfGone reports w deleted when its Workspace resource is gone. The
// event consumer calls it after deleting: a resource that was already gone
// (or never written) makes no watch event for Reconcile.
func (r *Reporter) ReportIfGone(ctx context.Context, w *workspacev1.Workspace) error {
	ws := &v1alpha1.Workspace{}
	err := r.c.Get(ctx, client.ObjectKey{Namespace: r.namespace, Name: w.Id}, ws)
	if apierrors.IsNotFound(err) {
		return r.publishStatus(ctx, deletedReport(w), "")
	}
	return err
}

// publishStatus and publishFirewall publish a report of the resource at
// version (its resourceVersion; "" when it is gone).
func (r *Reporter) publishStatus(ctx context.Context, rep *eventsv1.StatusReport, version string) error {
	if rep == nil {
		return nil
	}
	rep.Reporter = ReporterName
	return event.Publish(ctx, r.js, event.StatusSubject(rep.WorkspaceId), dedupeID(rep.WorkspaceId, version, rep), rep)
}

func (r *Reporter) publishFirewall(ctx context.Context, rep *eventsv1.FirewallReport, version string) error {
	if rep == nil {
		return nil
	}
	rep.Reporter = ReporterName
	return event.Publish(ctx, r.js, event.FirewallStatusSubject(rep.WorkspaceId), dedupeID(rep.WorkspaceId, version, rep), rep)
}

// dedupeID gives identical reports of one resource version one Nats-Msg-Id,
// so repeated status reconciles within the duplicate window are stored once.
// The version keeps a status that comes back (Running, a pod restarts,
// Running again: each a new resourceVersion) from being dropped as a
// duplicate of the first.
func dedupeID(id, version string, m proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%s-k8s-%s-%s", id, version, hex.EncodeToString(sum[:10]))
}
