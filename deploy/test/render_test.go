package test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// install is one way of installing the chart the tests render.
type install struct {
	// name labels the subtests.
	name string
	// release and namespace are the Helm release name and namespace.
	release, namespace string
	// values are values files relative to this directory.
	values []string
	// workspaceNamespace is where the workspaces live with these values.
	workspaceNamespace string
}

// installs are the two installs the issue names: the defaults (in-chart NATS,
// no Cilium) and testdata/values-external.yaml (external NATS with
// credentials, Cilium on, custom defaults, pinned digests, ingress).
var installs = []install{
	{name: "defaults", release: "aileron", namespace: "aileron-system", workspaceNamespace: "aileron-workspaces"},
	{
		name: "external", release: "prod", namespace: "aileron-prod",
		values: []string{"testdata/values-external.yaml"}, workspaceNamespace: "team-workspaces",
	},
}

// helmArgs are the flags selecting inst's release, namespace and values.
func (inst install) helmArgs() []string {
	args := []string{"--namespace", inst.namespace}
	for _, v := range inst.values {
		args = append(args, "--values", v)
	}
	return args
}

// prefix is what the chart's object names start with: "<fullname>-".
func (inst install) prefix() string {
	if strings.Contains(inst.release, "aileron") {
		return inst.release + "-"
	}
	return inst.release + "-aileron-"
}

// runHelm runs helm and returns its stdout; the error carries stderr.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), requireHelm(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// render runs `helm template` for inst (plus extra flags) and decodes every
// object it prints. CRDs are not printed: Helm installs crds/ on its own.
func render(t *testing.T, inst install, extra ...string) manifest {
	t.Helper()
	args := append([]string{"template", inst.release, chartDir()}, inst.helmArgs()...)
	out, err := runHelm(t, append(args, extra...)...)
	require.NoError(t, err)
	objs, err := decode(out)
	require.NoError(t, err)
	require.NotEmpty(t, objs, "helm template rendered nothing")
	return objs
}

// manifest is the decoded output of `helm template`.
type manifest []*unstructured.Unstructured

func decode(out string) (manifest, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(out), 4096)
	var objs manifest
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode helm output: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the objects of kind, optionally named name.
func (m manifest) find(kind, name string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range m {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			out = append(out, o)
		}
	}
	return out
}

// get returns the one object of kind and name, converted into T.
func get[T any](t *testing.T, m manifest, kind, name string) *T {
	t.Helper()
	objs := m.find(kind, name)
	require.Len(t, objs, 1, "want exactly one %s %s", kind, name)
	out := new(T)
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, out), "%s %s", kind, name)
	return out
}

// podTemplate is a pod template of the manifest and the object holding it.
type podTemplate struct {
	owner string
	spec  corev1.PodTemplateSpec
}

// podTemplates returns the pod template of every workload in m.
func podTemplates(t *testing.T, m manifest) []podTemplate {
	t.Helper()
	var out []podTemplate
	for _, o := range m {
		switch o.GetKind() {
		case "Deployment":
			d := get[appsv1.Deployment](t, m, "Deployment", o.GetName())
			out = append(out, podTemplate{owner: "Deployment/" + d.Name, spec: d.Spec.Template})
		case "StatefulSet":
			s := get[appsv1.StatefulSet](t, m, "StatefulSet", o.GetName())
			// The StatefulSet controller adds a volume per claim template, as here.
			tpl := *s.Spec.Template.DeepCopy()
			for _, c := range s.Spec.VolumeClaimTemplates {
				tpl.Spec.Volumes = append(tpl.Spec.Volumes, corev1.Volume{
					Name: c.Name,
					VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
						ClaimName: c.Name + "-" + s.Name + "-0",
					}},
				})
			}
			out = append(out, podTemplate{owner: "StatefulSet/" + s.Name, spec: tpl})
		case "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet":
			t.Fatalf("%s %s: the chart renders no %s; teach podTemplates about it", o.GetKind(), o.GetName(), o.GetKind())
		}
	}
	return out
}

// container returns the one container of a Deployment of the manifest.
func container(t *testing.T, m manifest, deployment string) (corev1.PodSpec, corev1.Container) {
	t.Helper()
	d := get[appsv1.Deployment](t, m, "Deployment", deployment)
	require.Len(t, d.Spec.Template.Spec.Containers, 1, deployment)
	return d.Spec.Template.Spec, d.Spec.Template.Spec.Containers[0]
}

// envValue returns the literal value of env var name, and whether it is set.
func envValue(c corev1.Container, name string) (corev1.EnvVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return corev1.EnvVar{}, false
}

// mountedFile says whether path is inside one of c's volume mounts, and which volume.
func mountedFile(c corev1.Container, path string) (string, bool) {
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, m.MountPath+"/") {
			return m.Name, true
		}
	}
	return "", false
}

func testdata(name string) string { return filepath.Join("testdata", name) }
