// Package store reads and writes workspace records in the workspaces KV bucket.
// The orchestrator is the only writer and writes with compare-and-swap on the
// entry revision; provisioners and the firewall service only read.
package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

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
)

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
	var out []*storev1.WorkspaceRecord
	for e := range w.Updates() {
		if e == nil {
			return out, nil
		}
		rec, err := Decode(e)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, ctx.Err()
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
// workspace no longer exists, e.g. after a crash between claim and create) is
// taken over; a live one answers ErrConflict.
func (s *Store) ClaimName(ctx context.Context, owner, name, id string) error {
	key := nameKey(owner, name)
	_, err := s.kv.Create(ctx, key, []byte(id))
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
	holder := string(e.Value())
	if holder == id {
		return nil
	}
	if _, err := s.Get(ctx, holder); !errors.Is(err, ErrNotFound) {
		if err != nil {
			return err
		}
		return ErrConflict
	}
	if _, err := s.kv.Update(ctx, key, []byte(id), e.Revision()); err != nil {
		if isWrongRevision(err) {
			return ErrConflict
		}
		return fmt.Errorf("claim name: %w", err)
	}
	return nil
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
	if string(e.Value()) != id {
		return nil
	}
	if err := s.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !isWrongRevision(err) {
		return fmt.Errorf("release name: %w", err)
	}
	return nil
}
