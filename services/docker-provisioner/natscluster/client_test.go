package natscluster_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/periodic"
)

// Client retry policy: what a careful API client does. Each attempt has its
// own deadline; an error that says "try again" is retried with back-off
// until the operation's bound.
const (
	attemptTimeout = 10 * time.Second
	opBound        = 2 * time.Minute
)

func retryable(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.Aborted:
		return true
	}
	return false
}

// op is one client operation as the client saw it.
type op struct {
	phase, kind, name string
	at, latency       time.Duration // at: since the recorder started
	attempts          int
	errs              []codes.Code
	ok                bool
}

// recorder runs and records client operations, by phase of the test.
type recorder struct {
	client workspacev1.WorkspaceServiceClient
	start  time.Time

	mu    sync.Mutex
	phase string
	ops   []op
	// samples holds the first error message per phase, operation and code.
	samples map[string]string
}

func newRecorder(c workspacev1.WorkspaceServiceClient) *recorder {
	return &recorder{client: c, start: time.Now(), phase: "baseline", samples: map[string]string{}}
}

func (r *recorder) setPhase(p string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = p
}

func (r *recorder) currentPhase() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phase
}

// do runs f with the retry policy and records it.
func (r *recorder) do(kind, name string, f func(ctx context.Context) error) error {
	o := op{phase: r.currentPhase(), kind: kind, name: name, at: time.Since(r.start)}
	begin := time.Now()
	var err error
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		o.attempts++
		ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
		err = f(ctx)
		cancel()
		if err == nil {
			o.ok = true
			break
		}
		code := status.Code(err)
		o.errs = append(o.errs, code)
		r.sample(o, code, err, time.Since(begin))
		if !retryable(code) || time.Since(begin) > opBound {
			break
		}
		time.Sleep(backoff)
	}
	o.latency = time.Since(begin)
	r.mu.Lock()
	r.ops = append(r.ops, o)
	r.mu.Unlock()
	return err
}

// sample keeps the first message of each kind of error, with when it came.
func (r *recorder) sample(o op, code codes.Code, err error, after time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := fmt.Sprintf("%s / %s / %s", o.phase, o.kind, code)
	if _, ok := r.samples[key]; !ok {
		r.samples[key] = fmt.Sprintf("after %s: %s", after.Round(time.Millisecond), status.Convert(err).Message())
	}
}

// create creates a docker workspace and returns its id. An attempt that
// failed may still have been applied: a later AlreadyExists for the name is
// then resolved by looking the name up.
func (r *recorder) create(name string) (string, error) {
	var id string
	failed := false
	err := r.do("create", name, func(ctx context.Context) error {
		resp, err := r.client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: name, Provisioner: "docker"})
		if err == nil {
			id = resp.GetWorkspace().GetId()
			return nil
		}
		if status.Code(err) == codes.AlreadyExists && failed {
			ws, lerr := listAll(ctx, r.client)
			if lerr != nil {
				return lerr
			}
			for _, w := range ws {
				if w.GetName() == name {
					id = w.GetId()
					return nil
				}
			}
		}
		failed = failed || retryable(status.Code(err))
		return err
	})
	return id, err
}

func (r *recorder) stop(id string) error {
	return r.do("stop", id, func(ctx context.Context) error {
		_, err := r.client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: id})
		return err
	})
}

func (r *recorder) delete(id string) error {
	failed := false
	return r.do("delete", id, func(ctx context.Context) error {
		_, err := r.client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: id})
		if status.Code(err) == codes.NotFound && failed {
			return nil // an earlier attempt finished it
		}
		// A 404 on the first attempt is a lie: the workspace was just
		// created (a stale read would answer it), so it fails the test.
		failed = failed || retryable(status.Code(err))
		return err
	})
}

// probe lists workspaces every interval until ctx ends, one attempt each, so
// the record shows when reads failed and how slow they were.
func (r *recorder) probe(ctx context.Context, interval time.Duration) {
	periodic.Run(ctx, interval, func(ctx context.Context) {
		o := op{phase: r.currentPhase(), kind: "list", at: time.Since(r.start), attempts: 1}
		begin := time.Now()
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		_, err := r.client.ListWorkspaces(actx, &workspacev1.ListWorkspacesRequest{PageSize: 100})
		cancel()
		if ctx.Err() != nil {
			return
		}
		o.latency, o.ok = time.Since(begin), err == nil
		if err != nil {
			o.errs = []codes.Code{status.Code(err)}
			r.sample(o, status.Code(err), err, o.latency)
		}
		r.mu.Lock()
		r.ops = append(r.ops, o)
		r.mu.Unlock()
	})
}

func listAll(ctx context.Context, c workspacev1.WorkspaceServiceClient) ([]*workspacev1.Workspace, error) {
	var out []*workspacev1.Workspace
	token := ""
	for {
		resp, err := c.ListWorkspaces(ctx, &workspacev1.ListWorkspacesRequest{PageSize: 100, PageToken: token})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetWorkspaces()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// summary is one line per phase and kind: count, retries, errors by code,
// median and maximum latency; and the longest run of failed probes.
func (r *recorder) summary(phases []string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %-7s %4s %7s %-40s %8s %8s\n", "phase", "op", "n", "retries", "errors (attempts)", "p50", "max")
	for _, ph := range phases {
		for _, kind := range []string{"create", "stop", "delete", "list"} {
			var lat []time.Duration
			retries, failed := 0, 0
			errs := map[codes.Code]int{}
			for _, o := range r.ops {
				if o.phase != ph || o.kind != kind {
					continue
				}
				lat = append(lat, o.latency)
				retries += o.attempts - 1
				if !o.ok {
					failed++
				}
				for _, c := range o.errs {
					errs[c]++
				}
			}
			if len(lat) == 0 {
				continue
			}
			slices.Sort(lat)
			var es []string
			for c, n := range errs {
				es = append(es, fmt.Sprintf("%s×%d", c, n))
			}
			slices.Sort(es)
			e := strings.Join(es, " ")
			if failed > 0 {
				e += fmt.Sprintf(" [%d failed]", failed)
			}
			fmt.Fprintf(&b, "%-22s %-7s %4d %7d %-40s %8s %8s\n", ph, kind, len(lat), retries, e,
				lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		}
	}
	// The longest stretch in which no probe succeeded, per phase.
	for _, ph := range phases {
		var worst, cur time.Duration
		var first time.Duration = -1
		for _, o := range r.ops {
			if o.kind != "list" || o.phase != ph {
				continue
			}
			if o.ok {
				if first >= 0 {
					cur = o.at + o.latency - first
					worst = max(worst, cur)
				}
				first = -1
				continue
			}
			if first < 0 {
				first = o.at
			}
		}
		if first >= 0 {
			worst = max(worst, time.Since(r.start)-first)
		}
		fmt.Fprintf(&b, "%-22s longest time with no successful list: %s\n", ph, worst.Round(time.Millisecond))
	}
	for _, k := range slices.Sorted(maps.Keys(r.samples)) {
		fmt.Fprintf(&b, "first %s: %s\n", k, r.samples[k])
	}
	return b.String()
}
