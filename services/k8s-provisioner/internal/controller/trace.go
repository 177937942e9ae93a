package controller

import (
	"context"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"aileron.dev/pkg/telemetry"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/resourcetrace"
)

// ReconcileSpan names the span of one pass of the operator over a Workspace.
const ReconcileSpan = "reconcile Workspace"

// startReconcile starts the span of a pass over ws: in the trace of the
// event that brought ws's generation until ws's status says that generation
// settled, after that in a trace of its own linked to it
// (resourcetrace.Start). The apiserver writes of the pass are its children.
func startReconcile(ctx context.Context, ws *v1alpha1.Workspace) (context.Context, trace.Span) {
	return resourcetrace.Start(ctx, ReconcileSpan, ws, resourcetrace.Converged(ws))
}

// endReconcile records the pass's result (its metric label) and error on
// span and ends it.
func endReconcile(span trace.Span, result string, err error) {
	span.SetAttributes(attribute.String("result", result))
	telemetry.End(span, err)
}

// LogConstructor returns the logger of the passes of the named controller
// of Workspaces: controller-runtime's own lines about a pass ("Reconciler
// error") and the reconciler's (ctrl.LoggerFrom) carry workspace_id, which
// every Aileron log line about a workspace has (a Workspace is named by its
// workspace id), instead of controller-runtime's name and Workspace keys.
func LogConstructor(base logr.Logger, controller string) func(*reconcile.Request) logr.Logger {
	base = base.WithValues("controller", controller, "controllerGroup", v1alpha1.GroupVersion.Group, "controllerKind", "Workspace")
	return func(req *reconcile.Request) logr.Logger {
		if req == nil {
			return base
		}
		return base.WithValues("workspace_id", req.Name, "namespace", req.Namespace)
	}
}
