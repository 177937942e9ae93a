package orchestrator

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
)

// Change types of a watch stream.
const (
	ChangeAdded    = "added"
	ChangeModified = "modified"
	ChangeDeleted  = "deleted"
	// ChangeSynced marks the end of a watch's initial snapshot.
	ChangeSynced = "synced"
)

// Change is one workspace change delivered to watchers.
type Change struct {
	Type      string
	Workspace *workspacev1.Workspace
}

// Index is an in-memory copy of every workspace, fed by a watch on the KV
// bucket (so it follows writes of every API replica) and by this replica's own
// writes (so a client reads its writes). It serves List and Watch.
type Index struct {
	mu   sync.RWMutex
	byID map[string]*workspacev1.Workspace
	subs map[*Subscription]struct{}
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byID: map[string]*workspacev1.Workspace{}, subs: map[*Subscription]struct{}{}}
}

// Put stores w unless the index already holds a newer revision.
func (x *Index) Put(w *workspacev1.Workspace) {
	w = clone(w)
	x.mu.Lock()
	defer x.mu.Unlock()
	old, ok := x.byID[w.Id]
	if ok && old.Revision >= w.Revision {
		return
	}
	x.byID[w.Id] = w
	typ := ChangeModified
	if !ok {
		typ = ChangeAdded
	}
	x.notify(Change{Type: typ, Workspace: w})
}

// Remove drops a workspace.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old, ok := x.byID[id]
	if !ok {
		return
	}
	delete(x.byID, id)
	x.notify(Change{Type: ChangeDeleted, Workspace: old})
}

// Owner returns the owner of workspace id, if the index holds it.
func (x *Index) Owner(id string) (string, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	w, ok := x.byID[id]
	if !ok {
		return "", false
	}
	return w.Owner, true
}

// Get returns the workspace with id, if the index holds it. The record is
// shared: callers must not modify it.
func (x *Index) Get(id string) (*workspacev1.Workspace, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	w, ok := x.byID[id]
	return w, ok
}

// Filter selects workspaces for List and Watch.
type Filter struct {
	ID, Owner   string
	State       workspace.State
	Provisioner workspace.Provisioner
	Search      string
}

func (f Filter) match(w *workspacev1.Workspace) bool {
	return (f.ID == "" || w.Id == f.ID) &&
		(f.Owner == "" || w.Owner == f.Owner) &&
		(f.State == "" || w.State == string(f.State)) &&
		(f.Provisioner == "" || w.Provisioner == string(f.Provisioner)) &&
		(f.Search == "" || strings.Contains(w.Name, strings.ToLower(f.Search)))
}

// sortKey orders workspaces by creation time, then id: stable under inserts.
func sortKey(w *workspacev1.Workspace) string {
	return fmt.Sprintf("%020d/%s", w.GetCreateTime().AsTime().UnixNano(), w.Id)
}

// List returns up to size workspaces matching f after the page token, and the
// token of the next page ("" on the last).
func (x *Index) List(f Filter, size int, token string) ([]*workspacev1.Workspace, string, error) {
	after := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !strings.Contains(string(b), "/") {
			return nil, "", invalid(errcode.PageTokenInvalid, "page_token", "page_token is not a token from a previous response")
		}
		after = string(b)
	}
	x.mu.RLock()
	var all []*workspacev1.Workspace
	for _, w := range x.byID {
		if f.match(w) && sortKey(w) > after {
			all = append(all, w)
		}
	}
	x.mu.RUnlock()
	slices.SortFunc(all, func(a, b *workspacev1.Workspace) int { return strings.Compare(sortKey(a), sortKey(b)) })
	if len(all) <= size {
		return all, "", nil
	}
	page := all[:size]
	return page, base64.RawURLEncoding.EncodeToString([]byte(sortKey(page[size-1]))), nil
}

// Len returns the number of workspaces.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byID)
}

// Snapshot returns every workspace (unordered).
func (x *Index) Snapshot() []*workspacev1.Workspace {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]*workspacev1.Workspace, 0, len(x.byID))
	for _, w := range x.byID {
		out = append(out, w)
	}
	return out
}

// Subscription receives changes matching its filter. C is closed when the
// subscriber falls too far behind or cancels.
type Subscription struct {
	C      chan Change
	filter Filter
	x      *Index
}

// Subscribe registers a watcher and returns it with the current workspaces
// matching f (sorted), delivered before any change.
func (x *Index) Subscribe(f Filter, buffer int) (*Subscription, []*workspacev1.Workspace) {
	s := &Subscription{C: make(chan Change, buffer), filter: f, x: x}
	x.mu.Lock()
	defer x.mu.Unlock()
	var cur []*workspacev1.Workspace
	for _, w := range x.byID {
		if f.match(w) {
			cur = append(cur, w)
		}
	}
	slices.SortFunc(cur, func(a, b *workspacev1.Workspace) int { return strings.Compare(sortKey(a), sortKey(b)) })
	x.subs[s] = struct{}{}
	return s, cur
}

// Cancel unregisters the subscription.
func (s *Subscription) Cancel() {
	s.x.mu.Lock()
	defer s.x.mu.Unlock()
	if _, ok := s.x.subs[s]; ok {
		delete(s.x.subs, s)
		close(s.C)
	}
}

// notify fans a change out; a subscriber whose buffer is full is dropped
// (its channel closed) rather than blocking every writer.
func (x *Index) notify(c Change) {
	for s := range x.subs {
		if !s.filter.match(c.Workspace) {
			continue
		}
		select {
		case s.C <- c:
		default:
			delete(x.subs, s)
			close(s.C)
		}
	}
}

// each calls fn with every workspace under the read lock; fn must not keep w.
func (x *Index) each(fn func(w *workspacev1.Workspace)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, w := range x.byID {
		fn(w)
	}
}

// Watchers returns the number of open subscriptions.
func (x *Index) Watchers() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.subs)
}
