package provisioner

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// resource is the Workspace resource of w as this provisioner writes it:
// only the fields it owns are set.
func resource(cfg Config, w *workspacev1.Workspace) (*v1alpha1.Workspace, error) {
	desired := v1alpha1.DesiredStateRunning
	if workspace.Desired(w.DesiredState) == workspace.DesiredStopped {
		desired = v1alpha1.DesiredStateStopped
	}
	// Config.Validate has checked the resources and storage size; an error
	// here means a Config that skipped it.
	var errs []error
	svc := func(name workspace.Service, s *workspacev1.ServiceStatus) v1alpha1.ServiceSpec {
		r, err := cfg.resources(name)
		errs = append(errs, err)
		return v1alpha1.ServiceSpec{Enabled: s.GetEnabled(), Image: *cfg.Images.Get(name), Resources: r}
	}
	storage, err := cfg.storage()
	errs = append(errs, err)
	ops := w.GetOperations()
	ws := &v1alpha1.Workspace{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: kind},
		ObjectMeta: metav1.ObjectMeta{
			Name: w.Id, Namespace: cfg.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelPartOf: v1alpha1.PartOf, v1alpha1.LabelWorkspaceID: w.Id, v1alpha1.LabelManagedBy: LabelManagedByValue,
			},
			Annotations: map[string]string{
				v1alpha1.AnnotationGeneration:       strconv.FormatInt(w.Generation, 10),
				v1alpha1.AnnotationFirewallRevision: strconv.FormatUint(w.GetFirewallStatus().GetRevision(), 10),
				v1alpha1.AnnotationName:             w.Name,
			},
		},
		Spec: v1alpha1.WorkspaceSpec{
			WorkspaceID: w.Id, Owner: w.Owner, DesiredState: desired,
			Services: v1alpha1.WorkspaceServices{
				Runtime:  svc(workspace.ServiceRuntime, w.GetServices().GetRuntime()),
				Terminal: svc(workspace.ServiceTerminal, w.GetServices().GetTerminal()),
				Browser:  svc(workspace.ServiceBrowser, w.GetServices().GetBrowser()),
				Canvas:   svc(workspace.ServiceCanvas, w.GetServices().GetCanvas()),
			},
			Storage: storage,
			Firewall: v1alpha1.FirewallSpec{
				Workspace: firewallGroup(w.WorkspaceFirewallNetworkAccessEnabled, w.WorkspaceFirewallDomainAccessMode, w.WorkspaceFirewallAllowedDomains),
				Browser:   firewallGroup(w.BrowserFirewallNetworkAccessEnabled, w.BrowserFirewallDomainAccessMode, w.BrowserFirewallAllowedDomains),
			},
			Operations: v1alpha1.OperationsSpec{
				RestartWorkspaceAt: timeOf(ops.GetRestartWorkspaceTime()),
				RestartRuntimeAt:   timeOf(ops.GetRestartRuntimeTime()),
				RestartTerminalAt:  timeOf(ops.GetRestartTerminalTime()),
				RestartBrowserAt:   timeOf(ops.GetRestartBrowserTime()),
				RestartCanvasAt:    timeOf(ops.GetRestartCanvasTime()),
			},
		},
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ws, nil
}

// kind is the kind of the Workspace resource: the scheme registers a type
// under its Go name.
var kind = reflect.TypeFor[v1alpha1.Workspace]().Name()

func firewallGroup(enabled bool, mode string, domains []string) v1alpha1.FirewallGroupSpec {
	return v1alpha1.FirewallGroupSpec{NetworkAccessEnabled: enabled, DomainAccessMode: v1alpha1.DomainAccessMode(mode), AllowedDomains: domains}
}

func timeOf(ts *timestamppb.Timestamp) *metav1.Time {
	if ts == nil {
		return nil
	}
	return ptr.To(metav1.NewTime(ts.AsTime()))
}

// resources returns the configured compute resources of service s; an
// unknown field or a malformed quantity is an error.
func (c Config) resources(s workspace.Service) (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	m, ok := c.Resources[string(s)]
	if !ok {
		return r, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, &r, true); err != nil {
		return r, fmt.Errorf("resources of %s: %w", s, err)
	}
	return r, nil
}

// storage returns the configured volume settings; the zero value keeps the
// CRD's defaults.
func (c Config) storage() (v1alpha1.StorageSpec, error) {
	var s v1alpha1.StorageSpec
	if c.StorageSize != "" {
		q, err := apiresource.ParseQuantity(c.StorageSize)
		if err != nil {
			return s, fmt.Errorf("storage size %q: %w", c.StorageSize, err)
		}
		s.Size = &q
	}
	if c.StorageClassName != "" {
		s.StorageClassName = ptr.To(c.StorageClassName)
	}
	return s, nil
}

// applyObject is ws as server-side apply sends it. Apply owns exactly the
// fields it sends, and the typed encoding sends a few the provisioner must
// not own and drops one it must; this evens them out, so ownership stays
// what it is:
//   - metadata.creationTimestamp (null) and status ({}) are always encoded;
//     they are not the provisioner's.
//   - an unset storage or service resources is encoded as {}, which would
//     claim the field; unset, it belongs to the CRD default or to whoever
//     sets it.
//   - an empty allowedDomains is dropped (omitempty), which would give up
//     the field: another writer's domains would then survive a resync. The
//     provisioner owns the list even when it is empty.
//
// testdata/*.golden.json pins the result.
func applyObject(ws *v1alpha1.Workspace) (*unstructured.Unstructured, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ws)
	if err != nil {
		return nil, fmt.Errorf("encode workspace %s: %w", ws.Name, err)
	}
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(obj, "status")
	if ws.Spec.Storage == (v1alpha1.StorageSpec{}) {
		unstructured.RemoveNestedField(obj, "spec", "storage")
	}
	for _, s := range workspace.Services {
		// The services' JSON names are the vocabulary's service names.
		if r := ws.Spec.Services.Get(s).Resources; len(r.Limits) == 0 && len(r.Requests) == 0 && len(r.Claims) == 0 {
			unstructured.RemoveNestedField(obj, "spec", "services", string(s), "resources")
		}
	}
	for _, g := range policy.Groups {
		// The groups' JSON names are the firewall groups' names.
		path := []string{"spec", "firewall", string(g), "allowedDomains"}
		if _, found, _ := unstructured.NestedFieldNoCopy(obj, path...); !found {
			if err := unstructured.SetNestedSlice(obj, []any{}, path...); err != nil {
				return nil, fmt.Errorf("encode workspace %s: %w", ws.Name, err)
			}
		}
	}
	return &unstructured.Unstructured{Object: obj}, nil
}
