package controller

import (
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

const (
	workspaceVolume = "workspace"
	workspaceMount  = workspace.DataMount
)

// desiredDeployment is the Deployment that runs pod k of ws. existing (may be
// nil) supplies the restart annotations already acted on, so an older
// timestamp never rolls the pods again.
func (r *WorkspaceReconciler) desiredDeployment(ws *v1alpha1.Workspace, k workspace.Service, existing *appsv1.Deployment, addrs routes) *appsv1.Deployment {
	replicas := int32(1)
	if ws.Spec.DesiredState == v1alpha1.DesiredStateStopped {
		replicas = 0
	}
	podLabels := labels(ws, string(k))
	podLabels[v1alpha1.LabelFirewallGroup] = string(groupOf(k))
	var prev map[string]string
	if existing != nil {
		prev = existing.Spec.Template.Annotations
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:      deploymentName(ws, k),
			Namespace: ws.Namespace,
			Labels:    labels(ws, string(k)),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:             &replicas,
			RevisionHistoryLimit: ptr.To[int32](2),
			Selector:             &metav1.LabelSelector{MatchLabels: selector(ws, k)},
			// One pod at a time: the runtime's volume is ReadWriteOnce and a
			// second browser or canvas would only confuse clients.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: restartAnnotations(ws, k, prev),
				},
				Spec: r.podSpec(ws, k, addrs),
			},
		},
	}
}

// restartAnnotations returns the restart annotations of pod k: for each
// operation that concerns it, the later of the spec timestamp and the one
// already on the template.
func restartAnnotations(ws *v1alpha1.Workspace, k workspace.Service, prev map[string]string) map[string]string {
	ops := ws.Spec.Operations
	wanted := map[string]*metav1.Time{restartWorkspace: ops.RestartWorkspaceAt}
	switch k {
	case workspace.ServiceRuntime:
		wanted[string(workspace.ServiceRuntime)] = ops.RestartRuntimeAt
		wanted[string(workspace.ServiceTerminal)] = ops.RestartTerminalAt
	case workspace.ServiceBrowser:
		wanted[string(workspace.ServiceBrowser)] = ops.RestartBrowserAt
	case workspace.ServiceCanvas:
		wanted[string(workspace.ServiceCanvas)] = ops.RestartCanvasAt
	}
	var out map[string]string
	for what, at := range wanted {
		name := restartAnnotation(what)
		value := prev[name]
		if at != nil {
			if old, err := time.Parse(time.RFC3339, value); err != nil || at.After(old) {
				value = at.UTC().Format(time.RFC3339)
			}
		}
		if value == "" {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = value
	}
	return out
}

// lastRestart is the latest restart annotation acted on for pod template
// annotations a, or nil.
func lastRestart(a map[string]string) *metav1.Time {
	var last *metav1.Time
	for name, value := range a {
		if len(name) <= len(annotationRestartPrefix) || name[:len(annotationRestartPrefix)] != annotationRestartPrefix {
			continue
		}
		t, err := time.Parse(time.RFC3339, value)
		if err != nil {
			continue
		}
		if last == nil || t.After(last.Time) {
			last = &metav1.Time{Time: t}
		}
	}
	return last
}

// routes are the URLs of a workspace's Services by cluster IP: a pod that
// talks to a sibling (the runtime's agent to the browser's DevTools, the
// canvas to the runtime's files API) is given its address, not its name,
// so it needs no DNS, which a workspace without network access has none of.
type routes map[workspace.Service]string

// routeEnv is the variable name=addrs[to], when to is running.
func routeEnv(name string, addrs routes, to workspace.Service) []corev1.EnvVar {
	if u := addrs[to]; u != "" {
		return []corev1.EnvVar{{Name: name, Value: u}}
	}
	return nil
}

// podSpec is the pod of k. It passes the restricted Pod Security Standard.
func (r *WorkspaceReconciler) podSpec(ws *v1alpha1.Workspace, k workspace.Service, addrs routes) corev1.PodSpec {
	spec := corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To(r.cfg.RunAsUser),
			RunAsGroup:     ptr.To(r.cfg.RunAsUser),
			FSGroup:        ptr.To(r.cfg.RunAsUser),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	switch k {
	case workspace.ServiceRuntime:
		for _, c := range []workspace.Service{workspace.ServiceRuntime, workspace.ServiceTerminal} {
			if ws.Spec.Services.Get(c).Enabled {
				ctr := r.container(ws, c)
				ctr.VolumeMounts = []corev1.VolumeMount{{Name: workspaceVolume, MountPath: workspaceMount}, {Name: "tmp", MountPath: "/tmp"}}
				ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "HOME", Value: workspace.HomeDir})
				ctr.Env = append(ctr.Env, r.podPeers(ws, c, addrs)...)
				spec.Containers = append(spec.Containers, ctr)
			}
		}
		spec.Volumes = []corev1.Volume{{
			Name: workspaceVolume,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: claimName(ws),
			}},
		}, {Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	case workspace.ServiceBrowser:
		ctr := r.container(ws, workspace.ServiceBrowser)
		ctr.VolumeMounts = []corev1.VolumeMount{{Name: "shm", MountPath: "/dev/shm"}, {Name: "tmp", MountPath: "/tmp"}}
		spec.Containers = []corev1.Container{ctr}
		// Chromium needs a /dev/shm larger than the runtime's 64 MiB default.
		spec.Volumes = []corev1.Volume{
			{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
				Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Gi")),
			}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}
	default:
		ctr := r.container(ws, k)
		ctr.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
		if k == workspace.ServiceCanvas {
			// The canvas reads through the runtime's files API: the claim is
			// ReadWriteOnce and the canvas pod may run on another node.
			ctr.Env = append(ctr.Env, routeEnv(workspace.RuntimeURLEnv, addrs, workspace.ServiceRuntime)...)
		}
		spec.Containers = []corev1.Container{ctr}
		spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}
	return spec
}

// podPeers tells the daemon of c about the other daemon in its pod (runtime
// and terminal share one) and the runtime about the browser: the runtime's
// activity signal asks the terminal and the browser, the runtime's agent
// drives the browser, and neither daemon of the pod may be previewed
// through the other, since a preview reaches any port on the pod's
// loopback.
func (r *WorkspaceReconciler) podPeers(ws *v1alpha1.Workspace, c workspace.Service, addrs routes) []corev1.EnvVar {
	other := workspace.ServiceTerminal
	if c == workspace.ServiceTerminal {
		other = workspace.ServiceRuntime
	}
	var env []corev1.EnvVar
	var activity []string
	if ws.Spec.Services.Get(other).Enabled {
		port := strconv.Itoa(int(r.cfg.port(other)))
		env = append(env, corev1.EnvVar{Name: "AILERON_PREVIEW_DENY_PORT", Value: port})
		activity = append(activity, "http://127.0.0.1:"+port)
	}
	if c != workspace.ServiceRuntime {
		return env
	}
	if u := addrs[workspace.ServiceBrowser]; u != "" {
		env = append(env, corev1.EnvVar{Name: workspace.BrowserURLEnv, Value: u})
		activity = append(activity, u)
	}
	if len(activity) > 0 {
		env = append(env, corev1.EnvVar{Name: "AILERON_ACTIVITY_PEER", Value: strings.Join(activity, ",")})
	}
	return env
}

// container is the container of component c with the restricted security
// context, a read-only root filesystem, its port in PORT and AILERON_ADDR
// (runtime and terminal share a pod, so each daemon must know its own), and
// a readiness probe on its health endpoint.
func (r *WorkspaceReconciler) container(ws *v1alpha1.Workspace, c workspace.Service) corev1.Container {
	s := ws.Spec.Services.Get(c)
	port := r.cfg.port(c)
	return corev1.Container{
		Name:      string(c),
		Image:     s.Image,
		Resources: *s.Resources.DeepCopy(),
		Ports:     []corev1.ContainerPort{{Name: string(c), ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{
			{Name: "AILERON_WORKSPACE_ID", Value: ws.Spec.WorkspaceID},
			{Name: "AILERON_COMPONENT", Value: string(c)},
			{Name: "PORT", Value: strconv.Itoa(int(port))},
			{Name: "AILERON_ADDR", Value: ":" + strconv.Itoa(int(port))},
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}},
			PeriodSeconds: 5,
		},
		SecurityContext: &corev1.SecurityContext{
			ReadOnlyRootFilesystem:   ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			RunAsNonRoot:             ptr.To(true),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}
