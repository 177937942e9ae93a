package controller

import (
	"context"
	"fmt"
	"net"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// ensureClaim creates the workspace volume claim and grows it when
// spec.storage.size grows. It never shrinks or recreates a claim: the data
// outlives stop and start, and goes with the Workspace (owner reference).
func (r *WorkspaceReconciler) ensureClaim(ctx context.Context, ws *v1alpha1.Workspace) (*corev1.PersistentVolumeClaim, error) {
	size := defaultStorageSize
	if q := ws.Spec.Storage.Size; q != nil && !q.IsZero() {
		size = *q
	}
	stored := &corev1.PersistentVolumeClaim{}
	err := r.client.Get(ctx, key(ws, claimName(ws)), stored)
	if apierrors.IsNotFound(err) {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claimName(ws), Namespace: ws.Namespace, Labels: labels(ws, componentStorage)},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: ws.Spec.Storage.StorageClassName,
				Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: size},
				},
			},
		}
		if err := controllerutil.SetControllerReference(ws, pvc, r.client.Scheme()); err != nil {
			return nil, fmt.Errorf("set owner of claim: %w", err)
		}
		if err := r.client.Create(ctx, pvc); err != nil {
			return nil, fmt.Errorf("create claim: %w", err)
		}
		return pvc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get claim: %w", err)
	}
	if !metav1.IsControlledBy(stored, ws) {
		return nil, fmt.Errorf("claim %s: %w", stored.Name, errNotOwned)
	}
	// Only a bound claim can grow (the API server refuses the rest), and only
	// when its storage class allows expansion; a refusal surfaces as an error.
	current := stored.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.Cmp(current) > 0 && stored.Status.Phase == corev1.ClaimBound {
		stored.Spec.Resources.Requests[corev1.ResourceStorage] = size
		if err := r.client.Update(ctx, stored); err != nil {
			return nil, fmt.Errorf("grow claim: %w", err)
		}
	}
	return stored, nil
}

// ensureDeployment creates or updates pod k of ws, or deletes it when every
// container of the pod is disabled. It returns nil when there is none.
func (r *WorkspaceReconciler) ensureDeployment(ctx context.Context, ws *v1alpha1.Workspace, k workspace.Service, addrs routes) (*appsv1.Deployment, error) {
	stored := &appsv1.Deployment{}
	if !podEnabled(ws, k) {
		return nil, r.deleteOwned(ctx, ws, stored, deploymentName(ws, k))
	}
	var prev *appsv1.Deployment
	if err := r.client.Get(ctx, key(ws, deploymentName(ws, k)), stored); err == nil {
		prev = stored.DeepCopy()
	}
	desired := r.desiredDeployment(ws, k, prev, addrs)
	return ensure(ctx, r, ws, desired, &appsv1.Deployment{}, func(s, d *appsv1.Deployment) {
		s.Spec = d.Spec
	})
}

// ensureService creates or updates the Service of component c, or deletes it
// when c is disabled. It returns the Service's URL by cluster IP ("" when
// c is disabled or the IP is not allocated).
func (r *WorkspaceReconciler) ensureService(ctx context.Context, ws *v1alpha1.Workspace, c workspace.Service) (string, error) {
	if !ws.Spec.Services.Get(c).Enabled {
		return "", r.deleteOwned(ctx, ws, &corev1.Service{}, serviceName(ws, c))
	}
	port := r.cfg.port(c)
	desired := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: serviceName(ws, c), Namespace: ws.Namespace, Labels: labels(ws, string(c))},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selector(ws, podOf(c)),
			Ports: []corev1.ServicePort{{
				Name: string(c), Port: port, TargetPort: intstr.FromString(string(c)), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
	stored, err := ensure(ctx, r, ws, desired, &corev1.Service{}, func(s, d *corev1.Service) {
		// Keep the allocated cluster IPs and other server-set fields.
		s.Spec.Type = d.Spec.Type
		s.Spec.Selector = d.Spec.Selector
		s.Spec.Ports = d.Spec.Ports
	})
	if err != nil || net.ParseIP(stored.Spec.ClusterIP) == nil {
		return "", err
	}
	return "http://" + net.JoinHostPort(stored.Spec.ClusterIP, strconv.Itoa(int(port))), nil
}

// deleteOwned deletes the object called name if ws controls it; a missing
// object costs no write.
func (r *WorkspaceReconciler) deleteOwned(ctx context.Context, ws *v1alpha1.Workspace, obj client.Object, name string) error {
	err := r.client.Get(ctx, key(ws, name), obj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	if !metav1.IsControlledBy(obj, ws) || obj.GetDeletionTimestamp() != nil {
		return nil
	}
	if err := r.client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}
