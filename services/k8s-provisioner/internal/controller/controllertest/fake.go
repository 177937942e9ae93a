package controllertest

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// MarkRolledOut plays the Deployment controller: it records the current
// generation as observed with every wanted replica updated and available
// (none when scaled to zero). It refuses (an error, for a caller's bounded
// retry) while the operator has not yet scaled the Deployment as its
// Workspace asks, one replica running and none stopped: a mark made before
// that scale would go stale with it.
func MarkRolledOut(ctx context.Context, c client.Client, key client.ObjectKey) error {
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, key, dep); err != nil {
		return fmt.Errorf("get deployment: %w", err)
	}
	n := int32(1)
	if dep.Spec.Replicas != nil {
		n = *dep.Spec.Replicas
	}
	if owner := metav1.GetControllerOf(dep); owner != nil && owner.Kind == "Workspace" {
		ws := &v1alpha1.Workspace{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: owner.Name}, ws); err != nil {
			return fmt.Errorf("get workspace: %w", err)
		}
		want := int32(1)
		if ws.Spec.DesiredState == v1alpha1.DesiredStateStopped {
			want = 0
		}
		if n != want {
			return fmt.Errorf("deployment %s has %d replicas, its workspace asks for %d: not scaled yet", key.Name, n, want)
		}
	}
	dep.Status = appsv1.DeploymentStatus{
		ObservedGeneration: dep.Generation,
		Replicas:           n,
		UpdatedReplicas:    n,
		ReadyReplicas:      n,
		AvailableReplicas:  n,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
		}},
	}
	return c.Status().Update(ctx, dep)
}

// MarkReplicaFailure plays the Deployment controller failing to create pods.
func MarkReplicaFailure(ctx context.Context, c client.Client, key client.ObjectKey, msg string) error {
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, key, dep); err != nil {
		return fmt.Errorf("get deployment: %w", err)
	}
	dep.Status.ObservedGeneration = dep.Generation
	dep.Status.Conditions = append(dep.Status.Conditions, appsv1.DeploymentCondition{
		Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: msg,
		LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	})
	return c.Status().Update(ctx, dep)
}

// BindClaim plays the volume binder: the claim becomes Bound.
func BindClaim(ctx context.Context, c client.Client, key client.ObjectKey) error {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Get(ctx, key, pvc); err != nil {
		return fmt.Errorf("get claim: %w", err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.AccessModes = pvc.Spec.AccessModes
	pvc.Status.Capacity = pvc.Spec.Resources.Requests
	return c.Status().Update(ctx, pvc)
}

// Namespace creates a namespace with a generated name and labels.
func Namespace(ctx context.Context, c client.Client, labels map[string]string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ws-test-", Labels: labels}}
	if err := c.Create(ctx, ns); err != nil {
		return "", fmt.Errorf("create namespace: %w", err)
	}
	return ns.Name, nil
}
