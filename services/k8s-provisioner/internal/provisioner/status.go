package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// SetupStatusReporter registers a controller that reports every Workspace
// resource's observed status to the orchestrator.
func (p *Provisioner) SetupStatusReporter(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("workspace-status-reporter").
		For(&v1alpha1.Workspace{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == p.cfg.Namespace && o.GetLabels()[v1alpha1.LabelManagedBy] == LabelManagedByValue
		}))).
		Complete(p)
}

// Reconcile implements reconcile.Reconciler for the status reporter.
func (p *Provisioner) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ws := &v1alpha1.Workspace{}
	err := p.c.Get(ctx, req.NamespacedName, ws)
	if apierrors.IsNotFound(err) {
		rec, err := p.store.Get(ctx, req.Name)
		if errors.Is(err, store.ErrNotFound) {
			return ctrl.Result{}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		if rec.Workspace.DesiredState == "deleted" {
			return ctrl.Result{}, p.publishStatus(ctx, deletedReport(rec.Workspace), "")
		}
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := p.publishStatus(ctx, statusReport(ws), ws.ResourceVersion); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, p.publishFirewall(ctx, firewallReport(ws), ws.ResourceVersion)
}

func deletedReport(w *workspacev1.Workspace) *eventsv1.StatusReport {
	return &eventsv1.StatusReport{WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: "deleted", Reason: "the Workspace resource and its children are gone"}
}

// statusReport maps a Workspace resource to a report; nil until the operator
// has observed the resource's latest spec.
func statusReport(ws *v1alpha1.Workspace) *eventsv1.StatusReport {
	gen, err := strconv.ParseInt(ws.Annotations[AnnotationGen], 10, 64)
	if err != nil || ws.Status.ObservedGeneration != ws.Generation || ws.DeletionTimestamp != nil {
		return nil
	}
	r := &eventsv1.StatusReport{WorkspaceId: ws.Name, ObservedGeneration: gen, Phase: "progressing"}
	ready := meta.FindStatusCondition(ws.Status.Conditions, v1alpha1.ConditionReady)
	if ready != nil {
		r.Reason = ready.Message
	}
	switch ws.Status.Phase {
	case v1alpha1.PhaseRunning:
		r.Phase = "running"
	case v1alpha1.PhaseStopped:
		r.Phase = "stopped"
	case v1alpha1.PhaseFailed:
		r.Phase = "failed"
		r.ErrorCode = "KUBERNETES_RECONCILE_FAILED"
		if ready != nil {
			r.ErrorCode = "KUBERNETES_" + upperSnake(ready.Reason)
		}
	}
	s := ws.Status.Services
	r.Services = &workspacev1.Services{
		Runtime: component(s.Runtime), Terminal: component(s.Terminal), Browser: component(s.Browser), Canvas: component(s.Canvas),
	}
	return r
}

func component(c v1alpha1.ComponentStatus) *workspacev1.ServiceStatus {
	out := &workspacev1.ServiceStatus{Enabled: c.Phase != v1alpha1.ComponentDisabled, State: strings.ToLower(string(c.Phase)), Endpoint: c.URL}
	if out.State == "" {
		out.State = "pending"
	}
	if c.LastRestartAt != nil {
		out.LastRestartTime = timestamppb.New(c.LastRestartAt.Time)
	}
	return out
}

// firewallReport maps the FirewallApplied condition to a firewall report.
func firewallReport(ws *v1alpha1.Workspace) *eventsv1.FirewallReport {
	rev, err := strconv.ParseUint(ws.Annotations[AnnotationFirewall], 10, 64)
	c := meta.FindStatusCondition(ws.Status.Conditions, v1alpha1.ConditionFirewallApplied)
	if err != nil || c == nil || c.ObservedGeneration != ws.Generation {
		return nil
	}
	r := &eventsv1.FirewallReport{
		WorkspaceId: ws.Name, Revision: rev, Message: c.Message,
		WorkspaceEffectiveAllowedDomains: ws.Status.Firewall.Workspace.EffectiveAllowedDomains,
		BrowserEffectiveAllowedDomains:   ws.Status.Firewall.Browser.EffectiveAllowedDomains,
	}
	switch {
	case c.Status == metav1.ConditionTrue:
		r.Phase = "applied"
	case c.Reason == v1alpha1.ReasonCiliumNotInstalled:
		r.Phase, r.ErrorCode = "unavailable", "CILIUM_NOT_INSTALLED"
	default:
		r.Phase, r.ErrorCode = "error", "KUBERNETES_"+upperSnake(c.Reason)
	}
	return r
}

// publishStatus and publishFirewall publish a report of the resource at
// version (its resourceVersion; "" when it is gone).
func (p *Provisioner) publishStatus(ctx context.Context, r *eventsv1.StatusReport, version string) error {
	if r == nil {
		return nil
	}
	r.Reporter = "k8s-provisioner"
	return event.Publish(ctx, p.js, event.StatusSubject(r.WorkspaceId), dedupeID(r.WorkspaceId, version, r), r)
}

func (p *Provisioner) publishFirewall(ctx context.Context, r *eventsv1.FirewallReport, version string) error {
	if r == nil {
		return nil
	}
	r.Reporter = "k8s-provisioner"
	return event.Publish(ctx, p.js, event.FirewallStatusSubject(r.WorkspaceId), dedupeID(r.WorkspaceId, version, r), r)
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

func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}
