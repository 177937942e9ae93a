package test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"

	"aileron.dev/services/firewall/firewall"
	"aileron.dev/services/firewall/policy"
)

// components are the Deployments of a Kubernetes install.
var components = []string{"api", "firewall", "k8s-provisioner", "workspace-operator"}

func TestLint(t *testing.T) {
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir()}, inst.helmArgs()...)
			out, err := runHelm(t, args...)
			require.NoError(t, err, out)
			require.Contains(t, out, "1 chart(s) linted, 0 chart(s) failed")
		})
	}
}

func TestRenderDefaults(t *testing.T) {
	m := render(t, installs[0])
	p := installs[0].prefix()

	for _, c := range components {
		d := get[appsv1.Deployment](t, m, "Deployment", p+c)
		assert.Equal(t, int32(2), *d.Spec.Replicas, "%s replicas", c)
		pdb := get[policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget", p+c)
		assert.Equal(t, d.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels, "%s PDB selects its pods", c)
	}
	for _, o := range m {
		assert.NotContains(t, o.GetName(), "docker-provisioner", "a Kubernetes install has no docker provisioner")
	}

	t.Run("api", func(t *testing.T) {
		_, c := container(t, m, p+"api")
		assert.Equal(t, "aileron/api:dev", c.Image)
		assert.Subset(t, c.Args, []string{"--http=:3001", "--grpc=:9090", "--replicas=3", "--provisioners=kubernetes",
			"--apps-domain=localhost", "--apps-scheme=http", "--apps-port=0", "--apps-session-ttl=8h"})
		require.NotNil(t, c.ReadinessProbe.HTTPGet)
		assert.Equal(t, "/healthz", c.ReadinessProbe.HTTPGet.Path)
		assert.Equal(t, "http", c.ReadinessProbe.HTTPGet.Port.String())
		require.NotNil(t, c.LivenessProbe.GRPC, "liveness is the gRPC health service")
		assert.Equal(t, int32(9090), c.LivenessProbe.GRPC.Port)
		assert.Contains(t, c.Args, "--tokens-file=/etc/aileron/auth/tokens.json")
		token := get[corev1.Secret](t, m, "Secret", p+"api-admin-token").StringData["token"]
		require.Len(t, token, 48)
		var file []struct {
			Name, SHA256 string
			Admin        bool
		}
		tokens := get[corev1.Secret](t, m, "Secret", p+"api-tokens").StringData["tokens.json"]
		require.NoError(t, json.Unmarshal([]byte(tokens), &file))
		sum := sha256.Sum256([]byte(token))
		assert.Equal(t, []struct {
			Name, SHA256 string
			Admin        bool
		}{{"bootstrap-admin", hex.EncodeToString(sum[:]), true}}, file, "the api pods get only the bootstrap token's hash")
		svc := get[corev1.Service](t, m, "Service", p+"api")
		assert.Equal(t, []int32{3001, 9090}, []int32{svc.Spec.Ports[0].Port, svc.Spec.Ports[1].Port})
		assert.Empty(t, m.find("Ingress", ""), "ingress is off by default")
	})

	t.Run("k8s-provisioner", func(t *testing.T) {
		_, c := container(t, m, p+"k8s-provisioner")
		assert.Subset(t, c.Args, []string{
			"--namespace=aileron-workspaces", "--replicas=3", "--image-runtime=aileron/workspace-runtime:dev",
			"--storage-size=10Gi", "--health-probe-bind-address=:8081",
		})
		for _, a := range c.Args {
			assert.NotContains(t, a, "--storage-class", "no class: the cluster default")
		}
		assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	})

	t.Run("workspace-operator", func(t *testing.T) {
		_, c := container(t, m, p+"workspace-operator")
		assert.Subset(t, c.Args, []string{
			"--leader-elect=true", "--namespace=aileron-workspaces",
			"--leader-election-namespace=aileron-system",
			"--firewall-defaults-configmap=aileron-system/aileron-firewall-defaults",
			"--front-door-namespace=aileron-system",
			"--front-door-labels=app.kubernetes.io/component=api,app.kubernetes.io/instance=aileron,app.kubernetes.io/name=aileron",
		})
		assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
		assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	})

	t.Run("firewall", func(t *testing.T) {
		_, c := container(t, m, p+"firewall")
		assert.Contains(t, c.Args, "--health-addr=:8081")
		require.Len(t, c.Ports, 1)
		assert.Equal(t, corev1.ContainerPort{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP}, c.Ports[0])
		require.NotNil(t, c.ReadinessProbe)
		require.NotNil(t, c.LivenessProbe)
		assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
		assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
		assert.Equal(t, "health", c.ReadinessProbe.HTTPGet.Port.String())
	})

	t.Run("nats in-chart", func(t *testing.T) {
		sts := get[appsv1.StatefulSet](t, m, "StatefulSet", p+"nats")
		assert.Equal(t, int32(3), *sts.Spec.Replicas)
		require.Len(t, sts.Spec.VolumeClaimTemplates, 1, "each server keeps its JetStream store on a PVC")
		assert.Equal(t, "10Gi", sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String())
		conf := get[corev1.Secret](t, m, "Secret", p+"nats-config").StringData["nats.conf"]
		assert.Contains(t, conf, "jetstream {")
		assert.Contains(t, conf, "sync_interval: always")
		assert.Contains(t, conf, "ping_interval: \"5s\"", "a silent peer is dropped in seconds, not minutes")
		for i := range 3 {
			assert.Contains(t, conf, "@aileron-nats-"+string(rune('0'+i))+".aileron-nats-headless.aileron-system.svc:6222", "route to server %d", i)
		}
		auth := get[corev1.Secret](t, m, "Secret", p+"nats-auth").StringData
		seen := map[string]bool{}
		for _, name := range []string{"api", "firewall", "k8s-provisioner"} {
			pw := auth[name+"-password"]
			require.NotEmpty(t, pw, name)
			assert.False(t, seen[pw], "%s shares a password", name)
			seen[pw] = true
			assert.Contains(t, conf, pw, "the server checks the password %s uses", name)
			assert.Equal(t, "nats://"+name+":"+pw+"@aileron-nats.aileron-system.svc:4222", auth[name+"-url"])
			_, c := container(t, m, p+name)
			e, ok := envValue(c, "AILERON_NATS_URL")
			require.True(t, ok, name)
			require.NotNil(t, e.ValueFrom, "%s reads the NATS URL (with its password) from the Secret", name)
			assert.Equal(t, p+"nats-auth", e.ValueFrom.SecretKeyRef.Name)
			assert.Equal(t, name+"-url", e.ValueFrom.SecretKeyRef.Key, "%s logs in as its own user", name)
			assert.Contains(t, c.Args, "--replicas=3", "%s: stream/KV replicas", name)
		}
		assert.NotContains(t, auth, "url", "no shared user")
	})

	t.Run("workspace namespace", func(t *testing.T) {
		ns := get[corev1.Namespace](t, m, "Namespace", "aileron-workspaces")
		assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
		assert.Equal(t, "keep", ns.Annotations["helm.sh/resource-policy"], "uninstall must not delete users' volumes")
		lr := get[corev1.LimitRange](t, m, "LimitRange", p+"workspace-defaults")
		assert.Equal(t, "aileron-workspaces", lr.Namespace)
		assert.Equal(t, "2Gi", lr.Spec.Limits[0].Default.Memory().String())
	})
	assert.Empty(t, m.find("CiliumNetworkPolicy", ""), "cilium is off by default")
}

func TestRenderExternal(t *testing.T) {
	m := render(t, installs[1])
	p := installs[1].prefix()

	assert.Empty(t, m.find("StatefulSet", ""), "no in-chart NATS")
	assert.Empty(t, m.find("Namespace", ""), "createNamespace: false")
	for _, o := range m.find("Secret", "") {
		t.Errorf("unexpected Secret %s: credentials come from the user's Secret", o.GetName())
	}
	for _, name := range []string{"api", "firewall", "k8s-provisioner"} {
		spec, c := container(t, m, p+name)
		e, ok := envValue(c, "AILERON_NATS_URL")
		require.True(t, ok, name)
		assert.Equal(t, "nats://nats-0.nats.messaging.svc:4222,nats://nats-1.nats.messaging.svc:4222", e.Value)
		creds, ok := envValue(c, "AILERON_NATS_CREDS")
		require.True(t, ok, "%s gets the credentials file", name)
		vol, ok := mountedFile(c, creds.Value)
		require.True(t, ok, "%s: %s is not mounted", name, creds.Value)
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vol })
		require.GreaterOrEqual(t, i, 0)
		assert.Equal(t, "aileron-nats-creds", spec.Volumes[i].Secret.SecretName)
		assert.Equal(t, "aileron.creds", spec.Volumes[i].Secret.Items[0].Path)
		assert.Equal(t, []corev1.LocalObjectReference{{Name: "registry-credentials"}}, spec.ImagePullSecrets)
	}

	_, api := container(t, m, p+"api")
	assert.Equal(t, "registry.example.com/mirror/aileron/api@sha256:"+strings.Repeat("1", 64), api.Image, "a digest wins over the tag")
	apiSpec, _ := container(t, m, p+"api")
	assert.Subset(t, api.Args, []string{
		"--oidc-issuer=https://login.example.com/realms/aileron", "--oidc-audience=aileron",
		"--oidc-admin-value=platform-admins", "--tokens-file=/etc/aileron/auth/tokens.json",
		"--max-workspaces-per-user=5", "--firewall-admin-only=true",
	})
	vol, ok := mountedFile(api, "/etc/aileron/auth/tokens.json")
	require.True(t, ok)
	i := slices.IndexFunc(apiSpec.Volumes, func(v corev1.Volume) bool { return v.Name == vol })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, "aileron-api-tokens", apiSpec.Volumes[i].Secret.SecretName, "the operator's own tokens Secret")
	_, op := container(t, m, p+"workspace-operator")
	assert.Equal(t, "registry.example.com/mirror/aileron/workspace-operator:0.1.0", op.Image)
	assert.Equal(t, corev1.PullAlways, op.ImagePullPolicy)
	assert.Contains(t, op.Args, "--namespace=team-workspaces")

	_, prov := container(t, m, p+"k8s-provisioner")
	assert.Subset(t, prov.Args, []string{
		"--namespace=team-workspaces", "--replicas=3",
		"--image-runtime=registry.example.com/workspaces/runtime:1.4.2",
		"--image-browser=registry.example.com/workspaces/chrome:131",
		"--storage-size=50Gi", "--storage-class=fast-ssd",
	})

	ing := get[networkingv1.Ingress](t, m, "Ingress", p+"api")
	assert.Equal(t, "nginx", *ing.Spec.IngressClassName)
	assert.Equal(t, "http", ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name)

	cnps := m.find("CiliumNetworkPolicy", "")
	var names []string
	for _, o := range cnps {
		names = append(names, o.GetName())
	}
	assert.ElementsMatch(t, []string{p + "api", p + "firewall", p + "k8s-provisioner", p + "workspace-operator"}, names)

	wd := get[corev1.ConfigMap](t, m, "ConfigMap", p+"workspace-defaults")
	var defaults struct {
		Namespace string `json:"namespace"`
		Storage   struct {
			Size             string `json:"size"`
			StorageClassName string `json:"storageClassName"`
		} `json:"storage"`
	}
	require.NoError(t, json.Unmarshal([]byte(wd.Data["workspace-defaults.json"]), &defaults))
	assert.Equal(t, "team-workspaces", defaults.Namespace)
	assert.Equal(t, "50Gi", defaults.Storage.Size)
	assert.Equal(t, "fast-ssd", defaults.Storage.StorageClassName)
}

// TestFirewallDefaults checks that the operator's keys and the firewall
// service's defaults.json carry the same domains, that every domain passes the
// firewall's own validation (the schema's pattern is only a first filter),
// and that the firewall service really reads the file.
func TestFirewallDefaults(t *testing.T) {
	// The chart ships the firewall service's built-in defaults, so a cluster
	// and `aileron dev` allow the same domains out of the box.
	builtin := firewall.BuiltinDefaults()
	want := map[string]map[policy.Group][]string{
		"defaults": {
			policy.GroupWorkspace: builtin.Workspace,
			policy.GroupBrowser:   builtin.Browser,
		},
		"external": {
			policy.GroupWorkspace: {"api.anthropic.com", "proxy.golang.org", "*.internal-mirror.example.com"},
			policy.GroupBrowser:   {"docs.example.com", "*.wikipedia.org"},
		},
	}
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			m := render(t, inst)
			prefix := inst.prefix()
			cm := get[corev1.ConfigMap](t, m, "ConfigMap", prefix+"firewall-defaults")
			var file map[policy.Group][]string
			require.NoError(t, json.Unmarshal([]byte(cm.Data["defaults.json"]), &file))
			for _, g := range policy.Groups {
				assert.Empty(t, cmp.Diff(want[inst.name][g], file[g], cmpEmptyNil), "defaults.json %s", g)
				assert.Empty(t, cmp.Diff(file[g], strings.Fields(cm.Data[string(g)]), cmpEmptyNil), "operator key %s", g)
				_, err := policy.NormalizeDomains("firewall.defaults."+string(g), file[g])
				assert.NoError(t, err, "the firewall service would refuse to start")
			}
			spec, c := container(t, m, prefix+"firewall")
			i := slices.Index(c.Args, "--defaults-file=/etc/aileron/firewall/defaults.json")
			require.GreaterOrEqual(t, i, 0, "firewall args %v", c.Args)
			vol, ok := mountedFile(c, "/etc/aileron/firewall/defaults.json")
			require.True(t, ok)
			j := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vol })
			require.GreaterOrEqual(t, j, 0)
			assert.Equal(t, cm.Name, spec.Volumes[j].ConfigMap.Name)
		})
	}
}

var cmpEmptyNil = cmp.Transformer("emptyNil", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

// TestSecurityContexts checks what the restricted Pod Security Standard does
// not: a read-only root filesystem and uid 65532 in every container, and no
// API token where a pod does not talk to Kubernetes.
func TestSecurityContexts(t *testing.T) {
	needToken := map[string]bool{"k8s-provisioner": true, "workspace-operator": true}
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			m := render(t, inst)
			for _, pt := range podTemplates(t, m) {
				spec := pt.spec.Spec
				psc := spec.SecurityContext
				require.NotNil(t, psc, pt.owner)
				assert.True(t, *psc.RunAsNonRoot, pt.owner)
				assert.Equal(t, int64(65532), *psc.RunAsUser, pt.owner)
				assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type, pt.owner)
				component := pt.spec.Labels["app.kubernetes.io/component"]
				require.NotNil(t, spec.AutomountServiceAccountToken, pt.owner)
				assert.Equal(t, needToken[component], *spec.AutomountServiceAccountToken, "%s token", pt.owner)
				for _, c := range append(spec.InitContainers, spec.Containers...) {
					sc := c.SecurityContext
					require.NotNil(t, sc, "%s/%s", pt.owner, c.Name)
					assert.False(t, *sc.AllowPrivilegeEscalation, "%s/%s", pt.owner, c.Name)
					assert.True(t, *sc.ReadOnlyRootFilesystem, "%s/%s", pt.owner, c.Name)
					assert.True(t, *sc.RunAsNonRoot, "%s/%s", pt.owner, c.Name)
					assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "%s/%s", pt.owner, c.Name)
					assert.Empty(t, sc.Capabilities.Add, "%s/%s", pt.owner, c.Name)
					assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type, "%s/%s", pt.owner, c.Name)
					assert.NotNil(t, c.Resources.Requests.Memory(), "%s/%s has requests", pt.owner, c.Name)
				}
			}
		})
	}
}

// TestSchemaRejectsBadValues: values.schema.json and the chart's own checks
// refuse bad values before anything reaches the cluster, naming the field.
func TestSchemaRejectsBadValues(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"typo in a key", []string{"api.replica=3"}, "at '/api': additional properties 'replica' not allowed"},
		{"zero replicas", []string{"api.replicas=0"}, "at '/api/replicas'"},
		{"stream replicas above 5", []string{"nats.replicas=7"}, "at '/nats/replicas': maximum: got 7, want 5"},
		{"even NATS cluster", []string{"nats.cluster.replicas=2"}, "at '/nats/cluster/replicas'"},
		{"more stream replicas than servers", []string{"nats.cluster.replicas=1"}, "nats.replicas (3 stream/KV replicas) cannot exceed nats.cluster.replicas (1 servers)"},
		{"external NATS without url", []string{"nats.enabled=false"}, "at '/nats/url'"},
		{"url with in-chart NATS", []string{"nats.url=nats://x:4222"}, "nats.url is set but nats.enabled is true"},
		{"bad NATS url", []string{"nats.enabled=false", "nats.url=http://x"}, "at '/nats/url'"},
		{"bad sync interval", []string{"nats.jetstream.syncInterval=sometimes"}, "at '/nats/jetstream/syncInterval'"},
		{"IP as default domain", []string{"firewall.defaults.workspace[0]=10.0.0.1"}, "at '/firewall/defaults/workspace/0': '10.0.0.1' does not match"},
		{"URL as default domain", []string{"firewall.defaults.browser[0]=https://example.com"}, "at '/firewall/defaults/browser/0'"},
		{"bare wildcard domain", []string{"firewall.defaults.workspace[0]=*"}, "at '/firewall/defaults/workspace/0'"},
		{"domain with port", []string{"firewall.defaults.workspace[0]=example.com:443"}, "at '/firewall/defaults/workspace/0'"},
		{"bad digest", []string{"api.image.digest=latest"}, "at '/api/image/digest'"},
		{"apps domain with a port", []string{"api.apps.domain=apps.example.com:443"}, "at '/api/apps/domain'"},
		{"apps scheme", []string{"api.apps.scheme=ftp"}, "at '/api/apps/scheme'"},
		{"bad pull policy", []string{"workspaceOperator.image.pullPolicy=Sometimes"}, "at '/workspaceOperator/image/pullPolicy'"},
		{"root user", []string{"podSecurityContext.runAsNonRoot=false"}, "at '/podSecurityContext/runAsNonRoot': value must be true"},
		{"uid 0", []string{"containerSecurityContext.runAsUser=0"}, "at '/containerSecurityContext/runAsUser'"},
		{"privilege escalation", []string{"containerSecurityContext.allowPrivilegeEscalation=true"}, "at '/containerSecurityContext/allowPrivilegeEscalation': value must be false"},
		{"capabilities kept", []string{"containerSecurityContext.capabilities.drop={NET_RAW}"}, "at '/containerSecurityContext/capabilities/drop'"},
		{"unconfined seccomp", []string{"podSecurityContext.seccompProfile.type=Unconfined"}, "at '/podSecurityContext/seccompProfile/type'"},
		{"bad workspace namespace", []string{"workspaces.namespace=Team_WS"}, "at '/workspaces/namespace'"},
		{"workspaces in the release namespace", []string{"workspaces.namespace=aileron-system"}, "must differ from the release namespace"},
		{"bad storage size", []string{"workspaces.defaults.storage.size=lots"}, "at '/workspaces/defaults/storage/size'"},
		{"bad deadline", []string{"api.deadlines.creating=ten minutes"}, "at '/api/deadlines/creating'"},
		{"unknown provisioner", []string{"api.provisioners={podman}"}, "at '/api/provisioners/0'"},
		{"PDB blocking drains", []string{"api.pdb.maxUnavailable=0"}, "at '/api/pdb/maxUnavailable'"},
		{"bad log level", []string{"firewall.logLevel=verbose"}, "at '/firewall/logLevel'"},
		{"flag without dashes", []string{"api.extraArgs={log-level=debug}"}, "at '/api/extraArgs/0'"},
		{"no authentication", []string{"api.auth.tokens.bootstrapAdmin=false"}, "the api refuses to serve off loopback without authentication"},
		{"OIDC without audience", []string{"api.auth.oidc.issuer=https://id.example.com"}, "api.auth.oidc.audience is required"},
		{"plain-http issuer", []string{"api.auth.oidc.issuer=http://id.example.com"}, "at '/api/auth/oidc/issuer'"},
		{"ServiceMonitor maybe", []string{"metrics.serviceMonitor.enabled=maybe"}, "at '/metrics/serviceMonitor/enabled'"},
		{"bad scrape interval", []string{"metrics.serviceMonitor.interval=often"}, "at '/metrics/serviceMonitor/interval'"},
		{"failure ratio above 1", []string{"metrics.prometheusRule.failureRatio=2"}, "at '/metrics/prometheusRule/failureRatio'"},
		{"typo in a metrics key", []string{"metrics.dashbord.enabled=true"}, "at '/metrics': additional properties 'dashbord' not allowed"},
		{"metrics port out of range", []string{"api.metricsPort=0"}, "at '/api/metricsPort'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"template", "aileron", chartDir()}, installs[0].helmArgs()...)
			for _, s := range tt.set {
				args = append(args, "--set", s)
			}
			_, err := runHelm(t, args...)
			require.Error(t, err, "values %v were accepted", tt.set)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}
