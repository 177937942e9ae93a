package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

const (
	benchWorkspaces = 1000
	// benchWorkers bounds concurrent reconciles, as a manager's
	// MaxConcurrentReconciles would.
	benchWorkers = 4
)

// BenchmarkReconcile1000 reconciles 1,000 fresh Workspaces, then passes over
// them again; the second pass must write nothing. ns/op is the first pass.
func BenchmarkReconcile1000(b *testing.B) {
	cfg := startBenchAPIServer(b)
	ctx := b.Context()
	admin := benchClient(b, cfg)
	seedBenchDefaults(b, admin)

	var first, second passStats
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		ns, err := controllertest.Namespace(ctx, admin, nil)
		if err != nil {
			b.Fatal(err)
		}
		reqs := createWorkspaces(b, admin, ns)
		r, n, httpReqs := countingBenchReconciler(b, cfg)

		b.StartTimer()
		first.add(runPass(ctx, b, r, reqs, n, httpReqs))
		b.StopTimer()
		b.Logf("phases after the first pass: %v", checkStatus(b, admin, ns))

		p := runPass(ctx, b, r, reqs, n, httpReqs)
		if len(p.writes) > 0 {
			b.Fatalf("second pass over %d converged workspaces wrote %d times, e.g. %q", len(reqs), len(p.writes), p.writes[:min(5, len(p.writes))])
		}
		second.add(p)
		deleteAll(b, admin, ns)
	}
	first.report(b, "pass1")
	second.report(b, "pass2")
	b.Logf("pass 1: %s; pass 2: %s (%d workspaces, %d workers, uncached client)", first, second, benchWorkspaces, benchWorkers)
}

// startBenchAPIServer starts a kube-apiserver and etcd for the benchmark
// alone, with the Workspace and Cilium CRDs, and stops them when it ends.
//
// The package's shared API server does not fit: its test operator (TestMain)
// would reconcile the same Workspaces concurrently, so the first pass would
// find work done and race it into conflicts; and envtest's default Service
// range, a /24, holds 254 ClusterIPs where 1,000 workspaces need 4,000.
func startBenchAPIServer(b *testing.B) *rest.Config {
	b.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		b.Fatal(controllertest.ErrNoAssets)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{controllertest.WorkspaceCRD(), controllertest.CiliumCRD()},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		b.Fatalf("start envtest: %v", err)
	}
	b.Cleanup(func() {
		if err := env.Stop(); err != nil {
			b.Errorf("stop envtest: %v", err)
		}
	})
	b.Logf("benchmark kube-apiserver and etcd started in %s", time.Since(start).Round(time.Millisecond))
	return cfg
}

// deleteAll removes the Workspaces of ns and their children, so the next
// iteration starts from the same object count and Service addresses are
// freed; envtest runs no garbage collector to follow owner references.
func deleteAll(b *testing.B, c client.Client, ns string) {
	b.Helper()
	p := &unstructured.Unstructured{}
	p.SetAPIVersion("cilium.io/v2")
	p.SetKind("CiliumNetworkPolicy")
	for _, obj := range []client.Object{
		&v1alpha1.Workspace{}, &appsv1.Deployment{}, &corev1.Service{}, &corev1.PersistentVolumeClaim{}, p,
	} {
		if err := c.DeleteAllOf(b.Context(), obj, client.InNamespace(ns)); err != nil {
			b.Fatalf("delete %T in %s: %v", obj, ns, err)
		}
	}
}

// passStats sums the passes of every benchmark iteration.
type passStats struct {
	elapsed                  time.Duration
	reconciles               int
	reads, writesN, httpReqs int
	writes                   []string
}

func (s *passStats) add(p passStats) {
	s.elapsed += p.elapsed
	s.reconciles += p.reconciles
	s.reads += p.reads
	s.writesN += p.writesN
	s.httpReqs += p.httpReqs
}

func (s passStats) perWS(v int) float64 { return float64(v) / float64(s.reconciles) }

func (s passStats) report(b *testing.B, name string) {
	b.ReportMetric(s.elapsed.Seconds()/float64(b.N), name+"-s")
	b.ReportMetric(float64(s.reconciles)/s.elapsed.Seconds(), name+"-reconciles/s")
	b.ReportMetric(s.perWS(s.reads), name+"-reads/ws")
	b.ReportMetric(s.perWS(s.writesN), name+"-writes/ws")
	b.ReportMetric(s.perWS(s.httpReqs), name+"-http/ws")
}

func (s passStats) String() string {
	return fmt.Sprintf("%s, %.0f reconciles/s, %.2f reads + %.2f writes per workspace (%d HTTP requests in all)",
		s.elapsed.Round(time.Millisecond), float64(s.reconciles)/s.elapsed.Seconds(),
		s.perWS(s.reads), s.perWS(s.writesN), s.httpReqs)
}

// runPass reconciles every request once with benchWorkers workers and
// returns what it cost, as seen by the client and by the HTTP transport.
func runPass(ctx context.Context, b *testing.B, r *controller.WorkspaceReconciler, reqs []reconcile.Request,
	n *controllertest.Counter, httpReqs *atomic.Int64) passStats {
	b.Helper()
	reads0, writes0, http0 := n.Reads(), len(n.Writes()), httpReqs.Load()
	start := time.Now()
	err := forEach(reqs, func(req reconcile.Request) error {
		if _, err := r.Reconcile(ctx, req); err != nil {
			return fmt.Errorf("reconcile %s: %w", req, err)
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	writes := n.Writes()[writes0:]
	return passStats{
		elapsed: elapsed, reconciles: len(reqs),
		reads: n.Reads() - reads0, writesN: len(writes), httpReqs: int(httpReqs.Load() - http0),
		writes: writes,
	}
}

// forEach calls fn for every item on benchWorkers goroutines and returns
// the first error of each worker.
func forEach[T any](items []T, fn func(T) error) error {
	next := make(chan T)
	errs := make([]error, benchWorkers)
	var wg sync.WaitGroup
	for w := range benchWorkers {
		wg.Go(func() {
			for it := range next {
				if err := fn(it); err != nil && errs[w] == nil {
					errs[w] = err
				}
			}
		})
	}
	for _, it := range items {
		next <- it
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// createWorkspaces creates benchWorkspaces fixture Workspaces in ns.
func createWorkspaces(b *testing.B, c client.Client, ns string) []reconcile.Request {
	b.Helper()
	reqs := make([]reconcile.Request, benchWorkspaces)
	for i := range reqs {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("w%04d", i)}}
	}
	start := time.Now()
	err := forEach(reqs, func(req reconcile.Request) error {
		return c.Create(b.Context(), controllertest.Workspace(ns, req.Name))
	})
	if err != nil {
		b.Fatalf("create workspaces: %v", err)
	}
	b.Logf("created %d workspaces in %s", len(reqs), time.Since(start).Round(time.Millisecond))
	return reqs
}

// countingBenchReconciler is a reconciler whose uncached client counts its
// reads and writes, and whose HTTP transport counts every request it sends,
// discovery included. Client-side rate limiting is off, as ctrl.GetConfig
// leaves it for the operator.
func countingBenchReconciler(b *testing.B, cfg *rest.Config) (*controller.WorkspaceReconciler, *controllertest.Counter, *atomic.Int64) {
	b.Helper()
	var httpReqs atomic.Int64
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			httpReqs.Add(1)
			return rt.RoundTrip(req)
		})
	})
	r, n, err := controllertest.CountingReconciler(cfg, reconcilerConfig)
	if err != nil {
		b.Fatal(err)
	}
	return r, n, &httpReqs
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func benchClient(b *testing.B, cfg *rest.Config) client.Client {
	b.Helper()
	scheme, err := controller.Scheme()
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// seedBenchDefaults creates the firewall defaults ConfigMap the reconciler
// reads on every pass, as the tests' operator does.
func seedBenchDefaults(b *testing.B, c client.Client) {
	b.Helper()
	ctx := b.Context()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultsCM.Namespace}}); err != nil {
		b.Fatal(err)
	}
	err := c.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: defaultsCM.Name, Namespace: defaultsCM.Namespace},
		Data:       map[string]string{"workspace": "pypi.org, files.pythonhosted.org", "browser": "*.google.com"},
	})
	if err != nil {
		b.Fatal(err)
	}
}

// checkStatus confirms the first pass left a status for the current
// generation on every Workspace, and returns how many are in each phase.
func checkStatus(b *testing.B, c client.Client, ns string) map[v1alpha1.Phase]int {
	b.Helper()
	var list v1alpha1.WorkspaceList
	if err := c.List(b.Context(), &list, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	phases := map[v1alpha1.Phase]int{}
	for _, ws := range list.Items {
		if ws.Status.ObservedGeneration != ws.Generation {
			b.Fatalf("workspace %s: status is for generation %d, not %d", ws.Name, ws.Status.ObservedGeneration, ws.Generation)
		}
		phases[ws.Status.Phase]++
	}
	return phases
}
