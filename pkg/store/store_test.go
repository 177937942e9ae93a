package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/store"
)

func open(t *testing.T) *store.Store {
	t.Helper()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, js, err := bus.Connect(ns.ClientURL(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := context.Background()
	if err := bus.Setup(ctx, js, bus.SetupConfig{}); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestQuotaClaimsAreAtomic: 20 concurrent claims against a quota of 3 on a
// real JetStream KV bucket; exactly 3 win.
func TestQuotaClaimsAreAtomic(t *testing.T) {
	s := open(t)
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() { errs <- s.ClaimQuota(t.Context(), "alice", fmt.Sprintf("id%02d", i), 3, now) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrQuotaExceeded):
			t.Fatalf("claim: %v", err)
		}
	}
	if won != 3 {
		t.Fatalf("%d claims won, want 3", won)
	}
	// Another owner has a quota of their own.
	if err := s.ClaimQuota(t.Context(), "bob", "b1", 3, now); err != nil {
		t.Fatal(err)
	}
}

// TestQuotaClaimLifecycle: a repeated claim is a no-op, a release frees a
// place, and a claim whose workspace was never written is dropped only after
// the grace period while one whose record exists is kept.
func TestQuotaClaimLifecycle(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Now()
	claim := func(id string, at time.Time) error { return s.ClaimQuota(ctx, "carol", id, 2, at) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(claim("live", now))
	if _, err := s.Create(ctx, &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{Id: "live"}}); err != nil {
		t.Fatal(err)
	}
	must(claim("crashed", now)) // no record is ever written for it
	must(claim("crashed", now)) // the same id again: no second place
	if err := claim("third", now); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("full quota: got %v", err)
	}
	if err := claim("third", now.Add(30*time.Second)); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("within the grace period the missing record may still come: got %v", err)
	}
	must(claim("third", now.Add(2*time.Minute))) // "crashed" is dropped, "live" kept
	if err := claim("fourth", now.Add(2*time.Minute+time.Second)); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("the live workspace and the young claim still count: got %v", err)
	}
	must(s.ReleaseQuota(ctx, "carol", "live"))
	must(s.ReleaseQuota(ctx, "carol", "live")) // twice is fine
	must(claim("fourth", now))
}

// TestNameClaims: a name held by a workspace being created (no record yet)
// is not taken over until the grace period has passed and its record is
// still missing; a name held by an existing workspace never is.
func TestNameClaims(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	now := time.Now()
	if err := s.ClaimName(ctx, "dan", "web", "first", now); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimName(ctx, "dan", "web", "first", now); err != nil {
		t.Fatalf("the holder claims again: %v", err)
	}
	if err := s.ClaimName(ctx, "dan", "web", "racer", now.Add(time.Second)); !errors.Is(err, store.ErrConflict) || !errors.Is(err, store.ErrNamePending) {
		t.Fatalf("a young claim without a record yet must hold, as pending: got %v", err)
	}
	if err := s.ClaimName(ctx, "erin", "web", "other-owner", now); err != nil {
		t.Fatalf("names are per owner: %v", err)
	}
	if err := s.ClaimName(ctx, "dan", "web", "later", now.Add(2*time.Minute)); err != nil {
		t.Fatalf("an old claim whose workspace never appeared is taken over: %v", err)
	}
	if _, err := s.Create(ctx, &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{Id: "later"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimName(ctx, "dan", "web", "much-later", now.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a claim whose workspace exists holds forever: got %v", err)
	}
	if err := s.ReleaseName(ctx, "dan", "web", "not-the-holder"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimName(ctx, "dan", "web", "much-later", now.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("only the holder releases: got %v", err)
	}
	if err := s.ReleaseName(ctx, "dan", "web", "later"); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimName(ctx, "dan", "web", "much-later", now); err != nil {
		t.Fatalf("a released name is free: %v", err)
	}
}
