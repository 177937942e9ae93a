// Package bus wires Aileron services to NATS JetStream: it starts the embedded
// server used by `aileron dev`, connects clients and creates the stream and
// key-value buckets every service relies on.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the JetStream objects shared by every service.
const (
	// StreamName is the stream of workspace events, status reports and
	// firewall policies (StreamSubjects).
	StreamName = "AILERON"
	// AuditStreamName is the stream of audit records (aileron.audit.>), apart
	// so that a flood of them can neither push events out nor use the store
	// the buckets need.
	AuditStreamName = "AILERON_AUDIT"
	// BucketWorkspaces holds workspace records; only the orchestrator writes it.
	BucketWorkspaces = "aileron-workspaces"
	// BucketFirewall holds effective firewall policies; only the firewall service writes it.
	BucketFirewall = "aileron-firewall"
	// BucketSecrets holds the control plane's own keys (pkg/frontdoor); whoever
	// first needs one creates it.
	BucketSecrets = "aileron-secrets"
)

// EmbeddedConfig configures the in-process NATS server of `aileron dev` and tests.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its data.
	StoreDir string
	// Host and Port to listen on; Port -1 picks a free port.
	Host string
	Port int
	// InProcess opens no TCP listener at all: clients connect with
	// nats.InProcessServer(server), so no other local user can reach it.
	// Host and Port are ignored.
	InProcess bool
	// Token, when set, is required of every client, TCP or in-process
	// (nats://TOKEN@host:port, or nats.Token).
	Token string
	// Users, when set, are the only clients admitted (nats://USER:PASSWORD@
	// host:port), each with its permissions (ServerUser for a role's).
	// Not with Token.
	Users []*server.User
	// Sync is the JetStream fsync policy: "always" fsyncs every write before it
	// is acknowledged; a duration such as "2m" (the NATS default) batches fsyncs
	// and can lose acknowledged writes on power loss (not on a process crash).
	Sync string
}

// ParseSync validates a sync policy: "always" or a positive duration.
func ParseSync(s string) (always bool, interval time.Duration, err error) {
	if s == "" || s == "always" {
		return true, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("nats sync %q: want \"always\" or a positive duration", s)
	}
	return false, d, nil
}

// StartEmbedded starts a NATS server with JetStream in this process and waits
// until it accepts connections.
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	always, interval, err := ParseSync(cfg.Sync)
	if err != nil {
		return nil, err
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName:    "aileron-embedded",
		Host:          host,
		Port:          cfg.Port,
		JetStream:     true,
		StoreDir:      cfg.StoreDir,
		NoSigs:        true,
		SyncAlways:    always,
		SyncInterval:  interval,
		MaxPayload:    8 << 20,
		DontListen:    cfg.InProcess,
		Authorization: cfg.Token,
		Users:         cfg.Users,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("create nats server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats server not ready within 30s")
	}
	return ns, nil
}

// Dead-server detection of every client: a ping every PingInterval, and the
// connection is given up as stale (and the client reconnects to another
// server of the URL list) when more than MaxPingsOut pings in a row go
// unanswered: 15 to 20 seconds after the server fell silent.
// A server that crashes resets its connections and is left at once; one cut
// off the network (a failed node or link) says nothing, and with the NATS
// client's defaults (2 minutes, 2 pings) its clients would wait 4 to 6
// minutes, every request timing out meanwhile (docs/nats-cluster.md).
const (
	PingInterval = 5 * time.Second
	MaxPingsOut  = 3
)

// Connect dials NATS at url (retrying while it is briefly unavailable) and
// returns the connection and its JetStream context. url may list several
// servers of a cluster, comma-separated.
func Connect(url, name string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	base := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(PingInterval),
		nats.MaxPingsOutstanding(MaxPingsOut),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// StreamSubjects are the subjects of StreamName: every Aileron subject but
// audit (pkg/event names them). Streams may not overlap, and a filter cannot
// say "aileron.> but not aileron.audit.>", so they are listed; a new subject
// prefix must be added here, or its publishes find no stream.
var StreamSubjects = []string{"aileron.workspace.>", "aileron.status.>", "aileron.firewall.>"}

// AuditSubjects are the subjects of AuditStreamName (event.AuditFilter).
var AuditSubjects = []string{"aileron.audit.>"}

// Default stream sizes. JetStream reserves a stream's MaxBytes in the
// server's store (max_file_store) when the stream is created, so both
// together must fit in it with room left for the buckets: 1.25 GiB
// together, which even a small store holds (the chart's is 8 GB).
const (
	// DefaultMaxBytes bounds the event stream. It is far above what seven
	// days of events take; reaching it is an incident, not a steady state.
	DefaultMaxBytes = 1 << 30
	// DefaultAuditMaxBytes bounds the audit stream; the oldest records go
	// first.
	DefaultAuditMaxBytes = 256 << 20
)

// SetupConfig sizes the JetStream objects.
type SetupConfig struct {
	// Replicas of the streams and buckets: 1 embedded, 3 on a cluster.
	Replicas int
	// MaxAge of stream messages (both streams); 0 is 7 days.
	MaxAge time.Duration
	// MaxBytes bounds the event stream; 0 is DefaultMaxBytes. When full, it
	// refuses new events (DiscardNew): a publisher sees the error and
	// retries (the orchestrator's outbox republishes), where discarding old
	// events would drop ones consumers have not read yet, silently.
	MaxBytes int64
	// AuditMaxBytes bounds the audit stream; 0 is DefaultAuditMaxBytes.
	// When full, the oldest records are dropped (DiscardOld), so the newest
	// audit is always kept and a flood costs at most this much store.
	AuditMaxBytes int64
	// Role, when set, limits Setup to what the role may do (Role.Manage,
	// Role.Use); nil sets up every stream and bucket (aileron dev, tests).
	Role *Role
}

// Setup creates or updates the streams and buckets idempotently. With
// cfg.Role it touches only the role's streams: it creates or updates those
// the role manages and creates the ones it uses when they are missing,
// leaving their configuration to their manager.
func Setup(ctx context.Context, js jetstream.JetStream, cfg SetupConfig) error {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 7 * 24 * time.Hour
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.AuditMaxBytes <= 0 {
		cfg.AuditMaxBytes = DefaultAuditMaxBytes
	}
	// The event stream first: before this version it captured aileron.>, and
	// the audit stream's subjects may only exist once it no longer does.
	// Audit records already in it stay until they age out.
	for _, sc := range []jetstream.StreamConfig{{
		Name:        StreamName,
		Description: "Aileron workspace events, status reports and firewall policies",
		Subjects:    StreamSubjects,
		MaxBytes:    cfg.MaxBytes,
		Discard:     jetstream.DiscardNew,
	}, {
		Name:        AuditStreamName,
		Description: "Aileron audit records",
		Subjects:    AuditSubjects,
		MaxBytes:    cfg.AuditMaxBytes,
		Discard:     jetstream.DiscardOld,
	}} {
		if !cfg.Role.uses(sc.Name) {
			continue
		}
		sc.Storage, sc.Retention, sc.MaxAge = jetstream.FileStorage, jetstream.LimitsPolicy, cfg.MaxAge
		sc.Duplicates, sc.Replicas = 2*time.Minute, cfg.Replicas
		if err := setupStream(ctx, js, sc, cfg.Role.manages(sc.Name)); err != nil {
			return fmt.Errorf("create stream %s: %w", sc.Name, err)
		}
	}
	for _, b := range []string{BucketWorkspaces, BucketFirewall, BucketSecrets} {
		if !cfg.Role.uses(KVStream(b)) {
			continue
		}
		kc := jetstream.KeyValueConfig{Bucket: b, History: 1, Storage: jetstream.FileStorage, Replicas: cfg.Replicas}
		if err := setupBucket(ctx, js, kc, cfg.Role.manages(KVStream(b))); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// setupStream creates or updates a stream; without update, it only creates
// a missing one.
func setupStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, update bool) error {
	if update {
		_, err := js.CreateOrUpdateStream(ctx, sc)
		return err
	}
	_, err := js.Stream(ctx, sc.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, sc)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil // another service created it meanwhile
		}
	}
	return err
}

// setupBucket is setupStream for a key-value bucket.
func setupBucket(ctx context.Context, js jetstream.JetStream, kc jetstream.KeyValueConfig, update bool) error {
	if update {
		_, err := js.CreateOrUpdateKeyValue(ctx, kc)
		return err
	}
	_, err := js.KeyValue(ctx, kc.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = js.CreateKeyValue(ctx, kc)
		if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil
		}
	}
	return err
}

// Open connects a service to NATS as role (its client name and inbox) and
// sets up the role's streams and buckets as cfg says (cfg.Role is set to
// role). An error that a permission violation explains names it.
func Open(ctx context.Context, url string, role Role, creds string, cfg SetupConfig, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := ConnectAs(url, role, append(CredsOption(creds), opts...)...)
	if err != nil {
		return nil, nil, err
	}
	cfg.Role = &role
	if err := Setup(ctx, js, cfg); err != nil {
		err = Explain(nc, err)
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// ConnectAs is Connect with role's client name and inbox prefix, the
// connection of a service that logs in as role's user.
func ConnectAs(url string, role Role, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	return Connect(url, role.ClientName(), append([]nats.Option{nats.CustomInboxPrefix(role.InboxPrefix())}, opts...)...)
}

// LogErrors logs what NATS reports on a connection out of band with log: a
// permission violation (an operation this service's user may not do, which
// the caller only sees time out) as an error naming the refused subject.
// Without it nats.go prints a bare line on stderr.
func LogErrors(log *slog.Logger) nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		attrs := []any{"err", err}
		if sub != nil {
			attrs = append(attrs, "subscription", sub.Subject)
		}
		if errors.Is(err, nats.ErrPermissionViolation) {
			log.Error("nats refused an operation this service's user may not do", attrs...)
			return
		}
		log.Warn("nats error", attrs...)
	})
}

// Explain adds to err the permission violation NATS last reported on nc, if
// any: a request the server refuses for permissions gets no answer, so the
// caller only sees a timeout, and the server's reason comes separately.
func Explain(nc *nats.Conn, err error) error {
	if err == nil || nc == nil {
		return err
	}
	if last := nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) && !errors.Is(err, nats.ErrPermissionViolation) {
		return fmt.Errorf("%w (%w: is this service's NATS user the right one? docs/install.md lists each service's permissions)", err, last)
	}
	return err
}

// Ready is a readiness check: nil while nc is connected to NATS.
func Ready(nc *nats.Conn) func() error {
	return func() error {
		if nc.IsConnected() {
			return nil
		}
		return fmt.Errorf("nats %s", strings.ToLower(nc.Status().String()))
	}
}

// LoadOrCreateSecret returns the value of key in BucketSecrets, storing
// create's value first when the key is absent. Concurrent first uses agree:
// one create wins and the others read its value. The caller validates it.
func LoadOrCreateSecret(ctx context.Context, js jetstream.JetStream, key string, create func() ([]byte, error)) ([]byte, error) {
	kv, err := js.KeyValue(ctx, BucketSecrets)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", BucketSecrets, err)
	}
	for range 3 {
		e, err := kv.Get(ctx, key)
		if err == nil {
			return e.Value(), nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("read %s from %s: %w", key, BucketSecrets, err)
		}
		v, err := create()
		if err != nil {
			return nil, err
		}
		if _, err := kv.Create(ctx, key, v); err == nil {
			return v, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("create %s in %s: %w", key, BucketSecrets, err)
		}
	}
	return nil, fmt.Errorf("%s in %s: create and read kept racing", key, BucketSecrets)
}
