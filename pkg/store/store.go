// Package store reads and writes workspace records in the workspaces KV bucket.
// The orchestrator is the only writer and writes with compare-and-swap on the
// entry revision; provisioners and the firewall service only read.
package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	storev1 "aileron.dev/gen/aileron/store/v1"
	"aileron.dev/pkg/bus"
)

// Sentinel errors.
var (
	// ErrNotFound means no record exists under the key.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the record changed since it was read (CAS failed) or
	// the key already exists on create.
	ErrConflict = errors.New("revision conflict")
	// ErrQuotaExceeded means the owner already holds as many quota claims as allowed.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrNamePending is the ErrConflict of a name claim whose holder has no
	// record yet: a create in flight, or one whose record write is not
	// confirmed (a NATS failover). It settles into ErrConflict once the
	// record appears, or into a free name once the claim is stale.
	ErrNamePending = fmt.Errorf("%w: the name's create has not finished", ErrConflict)
)

// claimGrace is how old a name or quota claim whose workspace record does
// not exist must be before it is dropped or taken over: younger, its create
// may still be on its way (the claim is written before the record).
const claimGrace = time.Minute

// casAttempts bounds the compare-and-swap retries on one contended key.
const casAttempts = 32

const workspacePrefix = "ws."

// Store is the workspace record store.
type Store struct {
	kv jetstream.KeyValue
}

// Open binds to the workspaces bucket (bus.Setup must have created it).
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, bus.BucketWorkspaces)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bus.BucketWorkspaces, err)
	}
	return &Store{kv: kv}, nil
}

// Key returns the KV key of a workspace id.
func Key(id string) string { return workspacePrefix + id }

// nameKey indexes (owner, name) so names are unique per owner. The owner is
// base64url-encoded because KV keys allow few characters.
func nameKey(owner, name string) string {
	return "name." + base64.RawURLEncoding.EncodeToString([]byte(owner)) + "." + name
}

// quotaKey holds the quota claims of owner (base64url for the same reason).
func quotaKey(owner string) string {
	return "quota." + base64.RawURLEncoding.EncodeToString([]byte(owner))
}

// Get returns the record of id with its revision filled in.
func (s *Store) Get(ctx context.Context, id string) (*storev1.WorkspaceRecord, error) {
	e, err := s.kv.Get(ctx, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", id, err)
	}
	return Decode(e)
}

// Decode unmarshals a KV entry into a record and sets the workspace revision.
func Decode(e jetstream.KeyValueEntry) (*storev1.WorkspaceRecord, error) {
	rec := &storev1.WorkspaceRecord{}
	if err := proto.Unmarshal(e.Value(), rec); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
	}
	if rec.GetWorkspace() == nil {
		return nil, fmt.Errorf("decode %s: record has no workspace", e.Key())
	}
	rec.Workspace.Revision = e.Revision()
	return rec, nil
}

func encode(rec *storev1.WorkspaceRecord) ([]byte, error) {
	// The revision is the KV entry's; it is not stored in the value.
	c := proto.Clone(rec).(*storev1.WorkspaceRecord)
	c.Workspace.Revision = 0
	return proto.MarshalOptions{Deterministic: true}.Marshal(c)
}

// Create stores a new record; ErrConflict if the id exists.
func (s *Store) Create(ctx context.Context, rec *storev1.WorkspaceRecord) (uint64, error) {
	data, err := encode(rec)
	if err != nil {
		return 0, err
	}
	rev, err := s.kv.Create(ctx, Key(rec.GetWorkspace().GetId()), data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", rec.GetWorkspace().GetId(), err)
	}
	return rev, nil
}

// Update replaces the record if it is still at revision rev.
func (s *Store) Update(ctx context.Context, rec *storev1.WorkspaceRecord, rev uint64) (uint64, error) {
	data, err := encode(rec)
	if err != nil {
		return 0, err
	}
	n, err := s.kv.Update(ctx, Key(rec.GetWorkspace().GetId()), data, rev)
	if isWrongRevision(err) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("update %s: %w", rec.GetWorkspace().GetId(), err)
	}
	return n, nil
}

// Delete removes the record if it is still at revision rev.
func (s *Store) Delete(ctx context.Context, id string, rev uint64) error {
	err := s.kv.Delete(ctx, Key(id), jetstream.LastRevision(rev))
	if isWrongRevision(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists) || (err != nil && strings.Contains(err.Error(), "wrong last sequence"))
}

// List returns every workspace record.
func (s *Store) List(ctx context.Context) ([]*storev1.WorkspaceRecord, error) {
	w, err := s.kv.Watch(ctx, workspacePrefix+"*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	defer func() { _ = w.Stop() }()
	return collect(ctx, w.Updates())
}

// ErrListIncomplete means a listing ended before the bucket's current values
// had all arrived (the watcher closed early: a lost connection, a stop).
var ErrListIncomplete = errors.New("list workspaces: listing ended before it was complete")

// collect reads the current values from a watcher's updates up to the nil
// entry that marks their end. A channel that closes before that entry is an
// error, never a partial list: callers such as the orphan sweep read a
// missing record as "this workspace does not exist".
func collect(ctx context.Context, updates <-chan jetstream.KeyValueEntry) ([]*storev1.WorkspaceRecord, error) {
	var out []*storev1.WorkspaceRecord
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-updates:
			if !ok {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				return nil, ErrListIncomplete
			}
			if e == nil {
				return out, nil
			}
			rec, err := Decode(e)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
		}
	}
}

// Watch streams every change of every workspace record, starting with the
// current values followed by a nil entry. Deleted records arrive as entries
// with Operation() KeyValueDelete or KeyValuePurge.
func (s *Store) Watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := s.kv.Watch(ctx, workspacePrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("watch workspaces: %w", err)
	}
	return w, nil
}

// IDFromKey returns the workspace id of a record key.
func IDFromKey(key string) string { return strings.TrimPrefix(key, workspacePrefix) }

// ClaimName reserves name for owner on behalf of id. A stale claim (its
// workspace does not exist and the claim is older than claimGrace, e.g.
// after a crash between claim and create) is taken over; a live one answers
// ErrConflict and a young one without a record ErrNamePending (an
// ErrConflict too), so two creates racing for one name cannot both win.
func (s *Store) ClaimName(ctx context.Context, owner, name, id string, now time.Time) error {
	key := nameKey(owner, name)
	claim := []byte(id + "@" + strconv.FormatInt(now.UnixNano(), 10))
	_, err := s.kv.Create(ctx, key, claim)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("claim name: %w", err)
	}
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("claim name: %w", err)
	}
	holder, at := parseNameClaim(e.Value())
	if holder == id {
		return nil
	}
	if _, err := s.Get(ctx, holder); !errors.Is(err, ErrNotFound) {
		if err != nil {
			return err
		}
		return ErrConflict
	}
	if now.Sub(at) < claimGrace {
		return ErrNamePending
	}
	if _, err := s.kv.Update(ctx, key, claim, e.Revision()); err != nil {
		if isWrongRevision(err) {
			return ErrConflict
		}
		return fmt.Errorf("claim name: %w", err)
	}
	return nil
}

// parseNameClaim splits a name claim "<id>@<unix nanos>". A claim written
// before claims carried a time has none and counts as old.
func parseNameClaim(v []byte) (id string, at time.Time) {
	id, nanos, ok := strings.Cut(string(v), "@")
	if !ok {
		return id, time.Time{}
	}
	n, err := strconv.ParseInt(nanos, 10, 64)
	if err != nil {
		return id, time.Time{}
	}
	return id, time.Unix(0, n)
}

// ReleaseName drops id's claim on name; another holder's claim is left alone.
func (s *Store) ReleaseName(ctx context.Context, owner, name, id string) error {
	key := nameKey(owner, name)
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release name: %w", err)
	}
	if holder, _ := parseNameClaim(e.Value()); holder != id {
		return nil
	}
	if err := s.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !isWrongRevision(err) {
		return fmt.Errorf("release name: %w", err)
	}
	return nil
}

// ClaimQuota counts workspace id against owner's quota of max workspaces.
// The claims live in one KV entry per owner written with compare-and-swap,
// so creates racing on several api replicas cannot overshoot. Claiming
// again for the same id is a no-op; ErrQuotaExceeded when the owner is full.
func (s *Store) ClaimQuota(ctx context.Context, owner, id string, max int, now time.Time) error {
	key := quotaKey(owner)
	for range casAttempts {
		q, rev, err := s.quota(ctx, key)
		if err != nil {
			return fmt.Errorf("claim quota: %w", err)
		}
		if _, ok := q.Claims[id]; ok {
			return nil
		}
		if len(q.Claims) >= max {
			if err := s.dropStaleClaims(ctx, q, now); err != nil {
				return fmt.Errorf("claim quota: %w", err)
			}
		}
		if len(q.Claims) >= max {
			return ErrQuotaExceeded
		}
		q.Claims[id] = timestamppb.New(now)
		err = s.putQuota(ctx, key, q, rev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("claim quota: %w", ErrConflict)
}

// ReleaseQuota drops id's claim from owner's quota.
func (s *Store) ReleaseQuota(ctx context.Context, owner, id string) error {
	key := quotaKey(owner)
	for range casAttempts {
		q, rev, err := s.quota(ctx, key)
		if err != nil {
			return fmt.Errorf("release quota: %w", err)
		}
		if _, ok := q.Claims[id]; !ok {
			return nil
		}
		delete(q.Claims, id)
		err = s.putQuota(ctx, key, q, rev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("release quota: %w", ErrConflict)
}

// quota reads the claims under key; revision 0 means there is no entry.
func (s *Store) quota(ctx context.Context, key string) (*storev1.QuotaClaims, uint64, error) {
	q := &storev1.QuotaClaims{Claims: map[string]*timestamppb.Timestamp{}}
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return q, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if err := proto.Unmarshal(e.Value(), q); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	if q.Claims == nil {
		q.Claims = map[string]*timestamppb.Timestamp{}
	}
	return q, e.Revision(), nil
}

// putQuota writes q if key is still at rev (0: not there); ErrConflict if not.
func (s *Store) putQuota(ctx context.Context, key string, q *storev1.QuotaClaims, rev uint64) error {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(q)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, key, data)
	} else {
		_, err = s.kv.Update(ctx, key, data, rev)
	}
	if isWrongRevision(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// dropStaleClaims removes the claims older than claimGrace whose workspace
// record does not exist: left by a crash between claim and create, or
// between a delete and its release.
func (s *Store) dropStaleClaims(ctx context.Context, q *storev1.QuotaClaims, now time.Time) error {
	for id, at := range q.Claims {
		if now.Sub(at.AsTime()) < claimGrace {
			continue
		}
		_, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			delete(q.Claims, id)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
