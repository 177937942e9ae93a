package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/kubecall"
)

// FieldOwner is the field manager of every write the operator makes.
const FieldOwner = "aileron-workspace-operator"

var defaultStorageSize = resource.MustParse("10Gi")

// conflictRetry is how soon a pass that lost a write race runs again.
const conflictRetry = 200 * time.Millisecond

// WorkspaceReconciler converges each Workspace into its Deployments,
// Services, volume claim and CiliumNetworkPolicies, and reports what it
// observed in the Workspace status. It writes only what differs, so a pass
// over a converged Workspace issues no write.

type WorkspaceReconciler struct {
	client  client.Client
	cfg     Config
	cilium  *ciliumDetector
	metrics *operatorMetrics
}

// NewWorkspaceReconciler returns a reconciler that reads and writes through
// c (normally the manager's cached client) and looks Cilium up in mapper.
// Unset fields of cfg take their defaults (Config.Defaults).
func NewWorkspaceReconciler(c client.Client, mapper meta.RESTMapper, cfg Config) (*WorkspaceReconciler, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := newOperatorMetrics()
	return &WorkspaceReconciler{
		client:  client.WithFieldOwner(kubecall.Wrap(c, m.calls), FieldOwner),
		cfg:     cfg,
		cilium:  &ciliumDetector{mapper: mapper, interval: cfg.CiliumRecheckInterval},
		metrics: m,
	}, nil
}

// The operator's permissions, rendered into config/rbac by hack/generate-crd.sh:
//
// +kubebuilder:rbac:groups=platform.aileron.io,resources=workspaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=platform.aileron.io,resources=workspaces/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete

// Reconcile converges one Workspace and writes its status when it changed.
func (r *WorkspaceReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	res, result, err := r.reconcile(ctx, req, start)
	r.metrics.reconciled(result, time.Since(start))
	return res, err
}

// reconcile is one pass begun at start; result is its result label.
func (r *WorkspaceReconciler) reconcile(ctx context.Context, req reconcile.Request, start time.Time) (_ reconcile.Result, result string, err error) {
	ws := &v1alpha1.Workspace{}
	if err := r.client.Get(ctx, req.NamespacedName, ws); err != nil {
		if err = client.IgnoreNotFound(err); err != nil {
			return reconcile.Result{}, resultError, err
		}
		return reconcile.Result{}, resultOK, nil
	}
	// Owner references remove the children; nothing lives outside the
	// cluster, so there is no finalizer.
	if !ws.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, resultOK, nil
	}
	ctx, span := startReconcile(ctx, ws)
	defer func() { endReconcile(span, result, err) }()
	obs := r.converge(ctx, ws, start)
	status, requeue := r.buildStatus(ws, obs, time.Now())
	if obs.firewall.requeue > 0 && (requeue == 0 || obs.firewall.requeue < requeue) {
		requeue = obs.firewall.requeue
	}
	before := ws.Status.Services
	statusErr := r.patchStatus(ctx, ws, status)
	if statusErr == nil {
		// Counted once the status that says so is stored: a pass that lost
		// the status write sees the old status again and counts then.
		r.metrics.failed(before, status.Services, obs)
	}
	err = errors.Join(obs.err, statusErr)
	switch {
	case err == nil:
		return reconcile.Result{RequeueAfter: requeue}, resultOK, nil
	case ctx.Err() != nil:
		return reconcile.Result{}, resultOK, nil // shutting down
	case apierrors.IsNotFound(err):
		return reconcile.Result{}, resultOK, nil // deleted meanwhile
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		// Our cache is behind a write; look again once it caught up.
		ctrl.LoggerFrom(ctx).V(1).Info("conflict, retrying", "error", err.Error())
		return reconcile.Result{RequeueAfter: conflictRetry}, resultConflict, nil
	}
	return reconcile.Result{}, resultError, err
}

// converge writes every child of ws that differs from its desired state.
// It goes on past a failed write so one broken child does not hide the
// others, and reports the errors together.
func (r *WorkspaceReconciler) converge(ctx context.Context, ws *v1alpha1.Workspace, start time.Time) observed {
	obs := observed{start: start, pods: map[workspace.Service]*appsv1.Deployment{}, applied: map[workspace.Service]time.Time{}, podsOf: map[workspace.Service][]corev1.Pod{}}
	var errs []error
	claim, err := r.ensureClaim(ctx, ws)
	obs.claim = claim
	errs = append(errs, err)
	// Services first: the pods are told their siblings' cluster IPs.
	addrs := routes{}
	for _, c := range workspace.Services {
		u, err := r.ensureService(ctx, ws, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s service: %w", c, err))
		}
		if u != "" {
			addrs[c] = u
		}
	}
	for _, k := range pods {
		dep, err := r.ensureDeployment(ctx, ws, k, addrs)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s deployment: %w", k, err))
			continue
		}
		obs.pods[k] = dep
		if dep != nil {
			obs.applied[k] = time.Now()
			// Its pods, for the timeline only: a failed read loses steps, not the pass.
			var list corev1.PodList
			if err := r.client.List(ctx, &list, client.InNamespace(ws.Namespace), client.MatchingLabels(selector(ws, k))); err == nil {
				obs.podsOf[k] = list.Items
			}
		}
	}
	fw, err := r.reconcileFirewall(ctx, ws)
	obs.firewall = fw
	errs = append(errs, err)
	obs.err = errors.Join(errs...)
	return obs
}

func (r *WorkspaceReconciler) patchStatus(ctx context.Context, ws *v1alpha1.Workspace, status v1alpha1.WorkspaceStatus) error {
	if equality.Semantic.DeepEqual(ws.Status, status) {
		return nil
	}
	// A full update, not a merge patch: a patch is a diff against our copy,
	// which may be stale, and would drop fields that look unchanged to us.
	// A conflict means we read an old Workspace; the retry reads it again.
	ws.Status = status
	if err := r.client.Status().Update(ctx, ws); err != nil {
		return fmt.Errorf("update status: %w", err)
	}
	return nil
}

// SetupWithManager registers the reconciler with mgr: it watches Workspaces,
// their children, and the firewall defaults ConfigMap. Policies are watched
// only when Cilium is installed at start-up; later installs are picked up by
// the periodic recheck.
func (r *WorkspaceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("workspace").
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: r.cfg.Workers}).
		WithLogConstructor(LogConstructor(mgr.GetLogger(), "workspace")).
		For(&v1alpha1.Workspace{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&networkingv1.NetworkPolicy{}).
		// A pod's progress (scheduled, containers started) is a step of the
		// timeline. Pods belong to ReplicaSets, not to the Workspace; the
		// Workspace Aileron writes is named after its workspace id.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(workspaceOfPod))
	if ok, err := r.cilium.installed(); err != nil {
		return fmt.Errorf("look up CiliumNetworkPolicy: %w", err)
	} else if ok {
		p := &unstructured.Unstructured{}
		p.SetGroupVersionKind(policyGVK)
		b = b.Owns(p)
	}
	if r.cfg.DefaultsConfigMap.Name != "" {
		b = b.Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.allWorkspaces),
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
				return o.GetNamespace() == r.cfg.DefaultsConfigMap.Namespace && o.GetName() == r.cfg.DefaultsConfigMap.Name
			})))
	}
	return b.Complete(r)
}

// workspaceOfPod enqueues the Workspace of an Aileron pod.
func workspaceOfPod(_ context.Context, o client.Object) []reconcile.Request {
	id := o.GetLabels()[v1alpha1.LabelWorkspaceID]
	if id == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: id}}}
}

// allWorkspaces enqueues every Workspace: the firewall defaults changed.
func (r *WorkspaceReconciler) allWorkspaces(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1alpha1.WorkspaceList
	if err := r.client.List(ctx, &list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list workspaces for a firewall defaults change")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, ws := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ws)})
	}
	return reqs
}
