package controllertest

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// Workspace returns a running Workspace with every service enabled, the
// workspace group on an allowlist and the browser group in deny mode.
func Workspace(namespace, id string) *v1alpha1.Workspace {
	svc := func(name string) v1alpha1.ServiceSpec {
		return v1alpha1.ServiceSpec{Enabled: true, Image: "registry.aileron.test/" + name + ":1"}
	}
	runtime := svc("runtime")
	runtime.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	return &v1alpha1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: namespace},
		Spec: v1alpha1.WorkspaceSpec{
			WorkspaceID:  id,
			Owner:        "alice@example.com",
			DesiredState: v1alpha1.DesiredStateRunning,
			Services: v1alpha1.WorkspaceServices{
				Runtime: runtime, Terminal: svc("terminal"), Browser: svc("browser"), Canvas: svc("canvas"),
			},
			Storage: v1alpha1.StorageSpec{Size: ptr.To(resource.MustParse("1Gi"))},
			Firewall: v1alpha1.FirewallSpec{
				Workspace: v1alpha1.FirewallGroupSpec{
					NetworkAccessEnabled: true,
					DomainAccessMode:     v1alpha1.DomainAccessAllowlist,
					AllowedDomains:       []string{"GitHub.com", "*.npmjs.org"},
				},
				Browser: v1alpha1.FirewallGroupSpec{NetworkAccessEnabled: true, DomainAccessMode: v1alpha1.DomainAccessDeny},
			},
		},
	}
}
