// Package test checks the Helm chart in deploy/helm/aileron: it lints and
// renders the chart with the pinned Helm (built from the Go module proxy by
// deploy/hack/helm.sh), checks what the schema refuses, that the chart's CRD
// is controller-gen's, that RBAC is least-privilege, and that a real
// kube-apiserver (envtest) accepts every rendered object and every pod
// template under the `restricted` Pod Security Standard.
//
// Missing tools fail the tests with the command that installs them; they
// never skip:
//
//	export HELM="$(bash deploy/hack/helm.sh)"
//	export KUBEBUILDER_ASSETS="$(bash hack/k8s-test-env.sh)"
//	go test ./deploy/test/
package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// helmVersion is the Helm the chart is tested with; deploy/hack/helm.sh
// installs exactly this one.
const helmVersion = "v3.22.0"

var (
	// helmBin is the helm binary, or "" with helmErr saying why.
	helmBin string
	helmErr error
	// server is the shared kube-apiserver, or nil with serverErr saying why.
	server    *apiServer
	serverErr error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Keep helm away from the user's repositories, plugins and caches.
	home, err := os.MkdirTemp("", "aileron-deploy-helm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm home:", err)
		return 1
	}
	defer os.RemoveAll(home)
	for _, v := range []string{"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"} {
		_ = os.Setenv(v, filepath.Join(home, v))
	}
	helmBin, helmErr = findHelm()
	server, serverErr = startAPIServer()
	if server != nil {
		defer func() {
			if err := server.stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stop envtest:", err)
			}
		}()
	}
	return m.Run()
}

// repoRoot is the repository root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func chartDir() string { return filepath.Join(repoRoot(), "deploy", "helm", "aileron") }

// findHelm returns $HELM, else the binary deploy/hack/helm.sh caches, and
// checks it is the pinned version.
func findHelm() (string, error) {
	install := "run `export HELM=\"$(bash deploy/hack/helm.sh)\"` from the repository root"
	bin := os.Getenv("HELM")
	if bin == "" {
		cache := os.Getenv("AILERON_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("helm: no $HELM and no home directory: %s", install)
			}
			cache = filepath.Join(home, ".cache", "aileron")
		}
		bin = filepath.Join(cache, "bin", "helm-"+helmVersion)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("helm %s not found at %s: %s", helmVersion, bin, install)
	}
	out, err := exec.Command(bin, "version", "--template", "{{.Version}}").Output()
	if err != nil {
		return "", fmt.Errorf("helm %s version: %w", bin, err)
	}
	if got := strings.TrimSpace(string(out)); got != helmVersion {
		return "", fmt.Errorf("helm at %s is %s, the chart is tested with %s: %s", bin, got, helmVersion, install)
	}
	return bin, nil
}

func requireHelm(t *testing.T) string {
	t.Helper()
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmBin
}

func requireServer(t *testing.T) *apiServer {
	t.Helper()
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return server
}

// errNoAssets says the kube-apiserver and etcd binaries are not configured.
var errNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: build kube-apiserver and etcd with " +
	"`export KUBEBUILDER_ASSETS=\"$(bash hack/k8s-test-env.sh)\"` (from the repository root) and run the tests again")

// startAPIServer starts kube-apiserver and etcd with the chart's CRDs, the
// Prometheus operator's PrometheusRule and ServiceMonitor (testdata/crds)
// and, when the repository has it, Cilium's real CiliumNetworkPolicy CRD,
// which is what validates the chart's policies.
func startAPIServer() (*apiServer, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errNoAssets
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("KUBEBUILDER_ASSETS=%s has no %s (%w): run hack/k8s-test-env.sh", assets, bin, err)
		}
	}
	crds := []string{filepath.Join(chartDir(), "crds"), monitoringCRDDir()}
	if _, err := os.Stat(ciliumCRDDir()); err == nil {
		crds = append(crds, ciliumCRDDir())
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crds,
		ErrorIfCRDPathMissing: true,
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest from %s: %w", assets, err)
	}
	s, err := newAPIServer(env, cfg)
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "envtest: kube-apiserver up in %s\n", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// ciliumCRDDir holds Cilium's own CRD, a copy kept by the k8s-provisioner.
func ciliumCRDDir() string {
	return filepath.Join(repoRoot(), "services", "k8s-provisioner", "config", "crd", "thirdparty")
}

// monitoringCRDDir holds the Prometheus operator CRDs the chart's monitoring
// objects are checked against.
func monitoringCRDDir() string {
	return filepath.Join(repoRoot(), "deploy", "test", "testdata", "crds")
}
