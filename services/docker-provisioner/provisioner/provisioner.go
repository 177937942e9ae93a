// Package provisioner runs Aileron workspaces on a Docker Engine. It consumes
// the docker workspace events as hints ("reconcile this workspace"), reads the
// desired state from the workspaces KV bucket, converges containers, networks,
// volumes and the per-workspace egress gateway to it, and reports what it
// observed back to the orchestrator. A periodic resync repairs drift and an
// orphan sweep removes what no workspace owns.
package provisioner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/periodic"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
)

// Reporter names this provisioner in status reports.
const Reporter = "docker-provisioner"

// Provisioner converges Docker to the desired state of docker workspaces.
type Provisioner struct {
	cfg    Config
	docker Docker
	js     jetstream.JetStream
	log    *slog.Logger
	queue  *queue
	probe  *http.Client
	now    func() time.Time

	// Set by Run before any worker starts.
	store    *store.Store
	policies jetstream.KeyValue
	// key is the front-door key; each gateway gets key.WorkspaceSecret(id).
	key           frontdoor.Key
	dnsMitigation bool
	dnsLeakFixed  bool
	// hostAddrs are this host's public addresses, which gateways never dial.
	hostAddrs []netip.Addr

	// netMu guards reserved: subnets being created by this process.
	netMu    sync.Mutex
	reserved map[netip.Prefix]bool

	mu sync.Mutex
	// reported holds the hash of the last report published per workspace
	// (key <id>) and of its last firewall report (key <id>/fw).
	reported map[string]string
	// failedGen holds the generation this process reported failed for.
	failedGen map[string]int64
	// announced holds the newest record revision an event announced per
	// workspace (see behind).
	announced map[string]announcement
	// appliedPolicy holds the content of the policy file last written per workspace.
	appliedPolicy map[string]string
	// enforcedPolicy holds, per workspace, the gateway and policy digest
	// the gateway last confirmed it enforces.
	enforcedPolicy map[string]string
	// appliedSecret holds the gateway container whose ingress secret file
	// this process checked or wrote, per workspace.
	appliedSecret map[string]string
	// retries counts consecutive failed reconciles per workspace for backoff.
	retries map[string]int
	// imageSeen holds when each image was last found on the engine.
	imageSeen map[string]time.Time
	// crashes holds the recent exits of running workspaces' services.
	crashes map[string]*crashes
	// healthy holds, per workspace and service, the container last seen
	// healthy and when (see judgeHealth).
	healthy map[string]map[workspace.Service]seenHealthy
	// steps holds the timeline steps of each workspace's current generation.
	steps map[string]*stepLog
	// started is set once Run has checked the engine and begun working.
	started atomic.Bool
	metrics *provMetrics
	// traces holds the trace each workspace's next reconcile continues.
	traces traceParents
}

// Ready is a readiness check: nil once Run has started working.
func (p *Provisioner) Ready() error {
	if !p.started.Load() {
		return errors.New("provisioner starting")
	}
	return nil
}

// New builds a provisioner; docker is usually NewDockerClient's client and js
// a JetStream context on which bus.Setup has run. Call Run to start it.
func New(cfg Config, docker Docker, js jetstream.JetStream, log *slog.Logger) (*Provisioner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("docker provisioner config: %w", err)
	}
	if docker == nil || js == nil {
		return nil, errors.New("docker provisioner: docker client and jetstream are required")
	}
	if log == nil {
		log = slog.Default()
	}
	m := newProvMetrics()
	return &Provisioner{
		cfg: cfg, docker: &timedDocker{d: docker, m: m}, js: js, log: log.With("component", Reporter),
		queue:         newQueue(),
		probe:         &http.Client{Timeout: time.Duration(cfg.ProbeTimeout), Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		now:           time.Now,
		reported:      map[string]string{},
		failedGen:     map[string]int64{},
		announced:     map[string]announcement{},
		crashes:       map[string]*crashes{},
		healthy:       map[string]map[workspace.Service]seenHealthy{},
		steps:         map[string]*stepLog{},
		appliedPolicy: map[string]string{}, enforcedPolicy: map[string]string{},
		appliedSecret: map[string]string{},
		retries:       map[string]int{},
		reserved:      map[netip.Prefix]bool{},
		imageSeen:     map[string]time.Time{},
		hostAddrs:     publicHostAddrs(cfg.Gateway.DenyHostAddresses),
		metrics:       m,
	}, nil
}

// publicHostAddrs lists the public addresses of this host's interfaces: the
// gateway refuses private ones anyway, but a public one would let a workspace
// reach the host's own services through the gateway. The provisioner must
// run in the host's network namespace to see them (it does in aileron dev).
func publicHostAddrs(enabled bool) []netip.Addr {
	if !enabled {
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && policy.PublicAddr(ip.Unmap()) {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// Run checks the engine, then reconciles workspaces until ctx ends: events,
// the engine's container events, a resync of every docker workspace at
// start-up and every ResyncInterval, and the orphan sweep every
// SweepInterval. It returns nil after a clean shutdown (also one during
// start-up), when every in-flight reconcile has returned.
func (p *Provisioner) Run(ctx context.Context) error {
	if err := p.init(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	p.started.Store(true)
	var wg sync.WaitGroup
	for range p.cfg.Workers {
		wg.Go(func() { p.work(ctx) })
	}
	wg.Go(func() { p.consume(ctx) })
	wg.Go(func() { p.watchEngine(ctx) })
	wg.Go(func() { periodic.Run(ctx, time.Duration(p.cfg.ResyncInterval), p.resync) })
	wg.Go(func() { periodic.Run(ctx, time.Duration(p.cfg.SweepInterval), p.sweepOnce) })
	p.resync(ctx)
	<-ctx.Done()
	p.queue.Close()
	wg.Wait()
	p.log.Info("docker provisioner stopped")
	return nil
}

// init checks the engine and binds the stores.
func (p *Provisioner) init(ctx context.Context) error {
	vctx, cancel := p.timeout(ctx)
	v, err := p.docker.ServerVersion(vctx)
	cancel()
	if err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	fixed := dnsLeakFixed(v.Version)
	p.dnsLeakFixed = fixed
	switch p.cfg.DNSMitigation {
	case DNSMitigationAlways:
		p.dnsMitigation = true
	case DNSMitigationAuto:
		p.dnsMitigation = !fixed
	}
	if !fixed {
		p.log.Warn("docker engine affected by CVE-2024-29018 (embedded DNS leaks from internal networks)",
			"engine_version", v.Version, "mitigation_applied", p.dnsMitigation,
			"mitigation", "workspace containers get no external resolver; siblings via extra hosts, the gateway by IP")
	}
	p.log.Info("docker engine", "engine_version", v.Version, "api_version", v.APIVersion, "dns_mitigation", p.dnsMitigation)
	if p.store, err = store.Open(ctx, p.js); err != nil {
		return err
	}
	if p.cfg.Instance == "" {
		if p.cfg.Instance, err = LoadInstance(ctx, p.js, p.store, p.docker); err != nil {
			return err
		}
	}
	p.log.Info("docker provisioner instance", "instance", p.cfg.Instance)
	if p.policies, err = p.js.KeyValue(ctx, bus.BucketFirewall); err != nil {
		return fmt.Errorf("open bucket %s: %w", bus.BucketFirewall, err)
	}
	// The API loads the same key from the same bucket: both derive the same
	// secret per workspace, across restarts of either.
	if p.key, err = frontdoor.LoadKey(ctx, p.js); err != nil {
		return err
	}
	return p.ensureOutsideNetwork(ctx)
}

// Reconcile queues one workspace for reconciliation (what an event does).
func (p *Provisioner) Reconcile(id string) { p.queue.Add(id) }

// work processes queued workspaces until the queue closes.
func (p *Provisioner) work(ctx context.Context) {
	for {
		id, ok := p.queue.Get()
		if !ok {
			return
		}
		start := p.now()
		rctx, span := p.traces.start(ctx, id)
		after, err := p.reconcile(rctx, id)
		p.traces.end(id, span, after, err)
		p.metrics.reconciled(err, p.now().Sub(start))
		p.queue.Done(id)
		p.log.DebugContext(rctx, "workspace reconciled", "workspace_id", id, "requeue_after", after, "err", err)
		if ctx.Err() != nil {
			continue
		}
		if err != nil {
			after = p.backoff(id)
			p.log.WarnContext(rctx, "reconcile failed, will retry", "workspace_id", id, "retry_in", after, "err", err)
		} else {
			p.resetBackoff(id)
		}
		if after > 0 {
			p.queue.AddAfter(id, after)
		}
	}
}

// backoff returns the next retry delay of id: 500ms doubling up to 30s.
func (p *Provisioner) backoff(id string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(p.retries[id], 6)
	p.retries[id]++
	return 500 * time.Millisecond << n
}

func (p *Provisioner) resetBackoff(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.retries, id)
}

// resync queues every docker workspace in the store.
func (p *Provisioner) resync(ctx context.Context) {
	recs, err := p.store.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("resync list failed", "err", err)
		}
		return
	}
	n := 0
	for _, rec := range recs {
		if workspace.Provisioner(rec.GetWorkspace().GetProvisioner()) == workspace.ProvisionerDocker {
			p.queue.Add(rec.Workspace.Id)
			n++
		}
	}
	p.log.Debug("resync queued workspaces", "count", n)
}

// timeout bounds one Docker API call.
func (p *Provisioner) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(p.cfg.DockerTimeout))
}
