package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// ensure makes the object named like desired carry every field desired sets,
// writing only when something differs, and returns the object as stored.
//
// The API server fills in defaults we do not set, so "differs" means: a
// field of desired is missing or different in the stored object (drift), or
// the hash of desired differs from the one recorded at the last write (a
// field we used to set was dropped). merge copies the fields we own from
// desired into the stored object before an update, so server-owned fields
// (a Service's cluster IP) survive.
//
// A write to a child of a Workspace whose spec the operator had already
// reconciled, where the desired state did not change, is a repair: counted
// in r's metrics by kind.
func ensure[T client.Object](ctx context.Context, r *WorkspaceReconciler, owner *v1alpha1.Workspace, desired, stored T, merge func(stored, desired T)) (T, error) {
	c := r.client
	if err := controllerutil.SetControllerReference(owner, desired, c.Scheme()); err != nil {
		return stored, fmt.Errorf("set owner of %s: %w", desired.GetName(), err)
	}
	hash, err := hashOf(desired)
	if err != nil {
		return stored, err
	}
	setAnnotation(desired, annotationDesiredHash, hash)

	err = c.Get(ctx, client.ObjectKeyFromObject(desired), stored)
	switch {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, desired); err != nil {
			return stored, fmt.Errorf("create %s: %w", desired.GetName(), err)
		}
		if owner.Status.ObservedGeneration == owner.Generation {
			r.metrics.repairs.WithLabelValues(kindOf(c, desired), "missing").Inc()
		}
		return desired, nil
	case err != nil:
		return stored, fmt.Errorf("get %s: %w", desired.GetName(), err)
	}
	if !metav1.IsControlledBy(stored, owner) {
		return stored, fmt.Errorf("%s exists and is not owned by workspace %s: %w", desired.GetName(), owner.Name, errNotOwned)
	}
	same, err := contains(stored, desired)
	if err != nil {
		return stored, err
	}
	unchanged := stored.GetAnnotations()[annotationDesiredHash] == hash
	if same && unchanged {
		return stored, nil
	}
	stored.SetLabels(mergeMaps(stored.GetLabels(), desired.GetLabels()))
	stored.SetAnnotations(mergeMaps(stored.GetAnnotations(), desired.GetAnnotations()))
	stored.SetOwnerReferences(desired.GetOwnerReferences())
	merge(stored, desired)
	if err := c.Update(ctx, stored); err != nil {
		return stored, fmt.Errorf("update %s: %w", desired.GetName(), err)
	}
	if unchanged && owner.Status.ObservedGeneration == owner.Generation {
		r.metrics.repairs.WithLabelValues(kindOf(c, desired), "drift").Inc()
	}
	return stored, nil
}

// kindOf is obj's kind as c's scheme knows it.
func kindOf(c client.Client, obj client.Object) string {
	if gvk, err := c.GroupVersionKindFor(obj); err == nil {
		return gvk.Kind
	}
	return obj.GetObjectKind().GroupVersionKind().Kind
}

// hashOf hashes the JSON of obj without the hash annotation itself.
func hashOf(obj client.Object) (string, error) {
	a := obj.GetAnnotations()
	delete(a, annotationDesiredHash)
	b, err := json.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", obj.GetName(), err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

func setAnnotation(obj client.Object, k, v string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	obj.SetAnnotations(a)
}

func mergeMaps(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// contains reports whether every field set in want has the same value in
// have, comparing their JSON forms. Lists must have the same length and
// match element by element; null or {} in want matches anything.
func contains(have, want runtime.Object) (bool, error) {
	h, err := toJSONValue(have)
	if err != nil {
		return false, err
	}
	w, err := toJSONValue(want)
	if err != nil {
		return false, err
	}
	return subset(w, h), nil
}

func toJSONValue(obj runtime.Object) (any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("compare objects: %w", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("compare objects: %w", err)
	}
	return v, nil
}

func subset(want, have any) bool {
	switch w := want.(type) {
	case nil:
		return true
	case map[string]any:
		if len(w) == 0 {
			return true
		}
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !subset(wv, h[k]) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, have)
	}
}
