// Package controllertest starts a real kube-apiserver and etcd (envtest) with
// the Workspace CRD, optionally Cilium's CiliumNetworkPolicy CRD, and helps
// tests play the parts of the controllers envtest does not run (Deployment
// status, volume binding).
package controllertest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ErrNoAssets says the kube-apiserver and etcd binaries are not configured.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: build kube-apiserver and etcd with " +
	"`export KUBEBUILDER_ASSETS=\"$(hack/k8s-test-env.sh)\"` (from the repository root) and run the tests again")

// moduleRoot is services/k8s-provisioner, found from this file's location.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// WorkspaceCRD is the directory of the generated Workspace CRD.
func WorkspaceCRD() string { return filepath.Join(moduleRoot(), "config", "crd") }

// CiliumCRD is the directory of Cilium's CiliumNetworkPolicy CRD.
func CiliumCRD() string { return filepath.Join(moduleRoot(), "config", "crd", "thirdparty") }

// Env is a running API server.
type Env struct {
	env *envtest.Environment
	// Config reaches the API server as an admin.
	Config *rest.Config
	// StartTime is how long the API server took to start.
	StartTime time.Duration
}

// Start starts kube-apiserver and etcd from $KUBEBUILDER_ASSETS and installs
// the CRDs in crdDirs. It fails (never skips) when the binaries are missing.
func Start(crdDirs ...string) (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, ErrNoAssets
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("KUBEBUILDER_ASSETS=%s has no %s (%w); run hack/k8s-test-env.sh", assets, bin, err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
	}
	// envtest's default range (a /24) holds 63 workspaces' four Services; no
	// namespace controller ever frees them, so a suite run more than once in
	// one process (-count) used to run out of cluster IPs.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	return &Env{env: env, Config: cfg, StartTime: time.Since(start)}, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error { return e.env.Stop() }

// InstallCRDs installs the CRDs in dir into the running API server.
func (e *Env) InstallCRDs(dir string) error {
	_, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true})
	return err
}

// UninstallCRDs deletes the CRDs in dir from the running API server; it does
// not wait for the deletion to finish.
func (e *Env) UninstallCRDs(dir string) error {
	return envtest.UninstallCRDs(e.Config, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true})
}
