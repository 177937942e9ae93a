// Package v1alpha1 holds the Workspace custom resource of the
// platform.aileron.io API group: the desired shape of one Aileron workspace on
// Kubernetes, reconciled by the workspace-operator.
//
// +kubebuilder:object:generate=true
// +groupName=platform.aileron.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of the Workspace resource.
	GroupVersion = schema.GroupVersion{Group: "platform.aileron.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
