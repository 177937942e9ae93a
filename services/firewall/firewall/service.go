// Package firewall is the firewall service: it follows workspace events,
// computes each workspace's effective egress policy (system defaults merged
// with the workspace's settings, by package policy), stores it in the firewall
// KV bucket, announces it to the enforcing provisioner and reports the
// effective domains to the orchestrator.
package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/periodic"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
)

// Consumer is the durable consumer name of the firewall service.
const Consumer = bus.ConsumerFirewall

// Config configures the firewall service.
type Config struct {
	// Defaults are the system default allowed domains per group.
	Defaults policy.Defaults
	// ResyncInterval recomputes every workspace's policy (0 disables).
	ResyncInterval time.Duration
}

// BuiltinDefaults are the allowed domains shipped with Aileron: package registries and
// the model API for the workspace, nothing extra for the browser.
func BuiltinDefaults() policy.Defaults {
	return policy.Defaults{
		Workspace: []string{
			"api.anthropic.com", "proxy.golang.org", "sum.golang.org", "registry.npmjs.org",
			"pypi.org", "files.pythonhosted.org", "github.com", "codeload.github.com",
			"raw.githubusercontent.com", "objects.githubusercontent.com",
		},
		Browser: []string{},
	}
}

// LoadDefaults reads defaults from a JSON file {"workspace": [...], "browser": [...]}.
func LoadDefaults(path string) (policy.Defaults, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return policy.Defaults{}, fmt.Errorf("read firewall defaults: %w", err)
	}
	var d policy.Defaults
	if err := json.Unmarshal(data, &d); err != nil {
		return policy.Defaults{}, fmt.Errorf("parse firewall defaults %s: %w", path, err)
	}
	return d, nil
}

// Validate checks that every default domain is valid.
func (c Config) Validate() error {
	for _, g := range policy.Groups {
		if _, err := policy.NormalizeDomains("defaults."+string(g), c.Defaults.For(g)); err != nil {
			return fmt.Errorf("firewall defaults: %w", err)
		}
	}
	return nil
}

// Service computes and distributes effective policies.
type Service struct {
	cfg     Config
	js      jetstream.JetStream
	store   *store.Store
	kv      jetstream.KeyValue
	log     *slog.Logger
	metrics *serviceMetrics
}

// New builds the service; bus.Setup must have created the buckets.
func New(ctx context.Context, cfg Config, js jetstream.JetStream, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, bus.BucketFirewall)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bus.BucketFirewall, err)
	}
	return &Service{cfg: cfg, js: js, store: st, kv: kv, log: log, metrics: newServiceMetrics()}, nil
}

// Run consumes workspace events until ctx ends, resyncing periodically.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.ResyncInterval > 0 {
		go periodic.Run(ctx, s.cfg.ResyncInterval, s.Resync)
	}
	return event.Consume(ctx, s.js, event.ConsumerConfig{
		Durable: Consumer, FilterSubjects: []string{event.AllWorkspacesFilter},
	}, s.log, s.handle)
}

// staleReads is how many deliveries of an event may find the record older
// than the event announced before the read is taken as the truth.
const staleReads = 3

// handle reconciles the workspace of one event. A deleted event purges the
// policy without reading: the record is gone for good. Otherwise a record
// read at an older revision than the event carries (or not found) is from a
// replica that has not applied that write yet (JetStream direct gets may be
// answered by any replica close to current): the event is retried rather
// than a policy computed from the old record, or purged.
func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	_, id, typ, ok := event.ParseWorkspaceSubject(msg.Subject())
	if !ok {
		return event.Permanent(errors.New("no workspace id in subject " + msg.Subject()))
	}
	ev := &eventsv1.WorkspaceEvent{}
	if err := proto.Unmarshal(msg.Data(), ev); err != nil {
		return event.Permanent(fmt.Errorf("decode workspace event: %w", err))
	}
	want := ev.GetWorkspace().GetRevision()
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > staleReads {
		want = 0
	}
	start := time.Now()
	result, err := s.reconcileAt(ctx, id, want, typ == event.TypeDeleted)
	s.metrics.done(result, err, time.Since(start))
	return err
}

// Resync recomputes the policy of every workspace; it repairs what events
// missed and applies changed system defaults.
func (s *Service) Resync(ctx context.Context) {
	recs, err := s.store.List(ctx)
	if err != nil {
		s.log.Warn("firewall resync list failed", "err", err)
		return
	}
	for _, r := range recs {
		if err := s.Reconcile(ctx, r.Workspace.Id); err != nil {
			s.log.Warn("firewall resync failed", "workspace_id", r.Workspace.Id, "err", err)
		}
	}
}

// Effective computes the policy of a workspace from its settings.
func Effective(d policy.Defaults, w *workspacev1.Workspace) (*eventsv1.FirewallPolicy, error) {
	groups := map[policy.Group]policy.Settings{
		policy.GroupWorkspace: {NetworkAccessEnabled: w.WorkspaceFirewallNetworkAccessEnabled, Mode: policy.Mode(w.WorkspaceFirewallDomainAccessMode), AllowedDomains: w.WorkspaceFirewallAllowedDomains},
		policy.GroupBrowser:   {NetworkAccessEnabled: w.BrowserFirewallNetworkAccessEnabled, Mode: policy.Mode(w.BrowserFirewallDomainAccessMode), AllowedDomains: w.BrowserFirewallAllowedDomains},
	}
	out := &eventsv1.FirewallPolicy{WorkspaceId: w.Id, Revision: w.GetFirewallStatus().GetRevision()}
	for g, set := range groups {
		e, err := policy.Compute(g, d.For(g), set)
		if err != nil {
			return nil, err
		}
		gp := &eventsv1.GroupPolicy{NetworkAccessEnabled: e.NetworkAccessEnabled, Mode: string(e.Mode), AllowedDomains: e.AllowedDomains}
		if g == policy.GroupWorkspace {
			out.Workspace = gp
		} else {
			out.Browser = gp
		}
	}
	return out, nil
}

// Reconcile brings the stored policy of one workspace up to date.
func (s *Service) Reconcile(ctx context.Context, id string) error {
	start := time.Now()
	result, err := s.reconcileAt(ctx, id, 0, false)
	s.metrics.done(result, err, time.Since(start))
	return err
}

// reconcileAt is Reconcile of a record known to be at revision atLeast or
// later (0: any), or gone; result says what it did, for the metrics.
func (s *Service) reconcileAt(ctx context.Context, id string, atLeast uint64, gone bool) (string, error) {
	var rec *storev1.WorkspaceRecord
	err := store.ErrNotFound
	if !gone {
		rec, err = s.store.Get(ctx, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		if !gone && atLeast > 0 {
			return resultError, fmt.Errorf("workspace %s not found, but an event announced revision %d: a NATS replica is behind", id, atLeast)
		}
		if err := s.kv.Purge(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return resultError, fmt.Errorf("purge policy %s: %w", id, err)
		}
		return resultPurged, nil
	}
	if err != nil {
		return resultError, err
	}
	w := rec.Workspace
	if w.Revision < atLeast {
		return resultError, fmt.Errorf("workspace %s read at revision %d, but an event announced revision %d: a NATS replica is behind", id, w.Revision, atLeast)
	}
	p, err := Effective(s.cfg.Defaults, w)
	if err != nil {
		var pe *policy.Error
		code := errcode.FirewallPolicyInvalid
		if errors.As(err, &pe) {
			code = pe.Code
		}
		return resultInvalid, s.report(ctx, &eventsv1.FirewallReport{WorkspaceId: id, Revision: w.GetFirewallStatus().GetRevision(), Phase: string(workspace.FirewallError), ErrorCode: string(code), Message: err.Error()}, 0)
	}
	if cur, err := s.kv.Get(ctx, id); err == nil {
		old := &eventsv1.FirewallPolicy{}
		if proto.Unmarshal(cur.Value(), old) == nil && proto.Equal(old, p) {
			return resultUnchanged, nil
		}
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
	if err != nil {
		return resultError, err
	}
	// The bucket revision tells this write from an earlier one of the same
	// firewall revision (new system defaults), which the stream must not
	// drop as a duplicate.
	kvRev, err := s.kv.Put(ctx, id, data)
	if err != nil {
		return resultError, fmt.Errorf("store policy %s: %w", id, err)
	}
	msgID := fmt.Sprintf("%s-policy-%d-%d", id, p.Revision, kvRev)
	if err := event.Publish(ctx, s.js, event.FirewallPolicySubject(workspace.Provisioner(w.Provisioner), id), msgID, p); err != nil {
		return resultError, err
	}
	s.log.Info("firewall policy computed", "workspace_id", id, "revision", p.Revision)
	return resultStored, s.report(ctx, &eventsv1.FirewallReport{
		WorkspaceId: id, Revision: p.Revision, Phase: string(workspace.FirewallApplying),
		WorkspaceEffectiveAllowedDomains: p.Workspace.AllowedDomains, BrowserEffectiveAllowedDomains: p.Browser.AllowedDomains,
	}, kvRev)
}

// report publishes r; kvRev is the bucket revision of the policy it is about
// (0 for none), so a report per policy write gets through.
func (s *Service) report(ctx context.Context, r *eventsv1.FirewallReport, kvRev uint64) error {
	r.Reporter = "firewall"
	r.Time = timestamppb.Now()
	msgID := fmt.Sprintf("%s-fw-%d-%s-%d", r.WorkspaceId, r.Revision, r.Phase, kvRev)
	return event.Publish(ctx, s.js, event.FirewallStatusSubject(r.WorkspaceId), msgID, r)
}
