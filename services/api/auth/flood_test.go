package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/reqid"
)

// TestRefusedCallFlood: unauthenticated calls with request ids as large as
// the metadata cap admits, from one client and then from many, are refused;
// their audit stays within the per-client and total budgets and the audit
// stream's MaxBytes, no stored id is longer than reqid.MaxLen, and creates,
// their records and their audit go on.
func TestRefusedCallFlood(t *testing.T) {
	is := newIssuer(t)
	const auditMax = 16 << 10
	env := start(t, is, func(o *apitest.Options) { o.Bus.AuditMaxBytes = auditMax })
	ctx := context.Background()
	resp, before := do(t, env, automationToken, "POST", "/api/v1/workspaces", map[string]any{"name": "before-flood"})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", before)

	audit, err := env.JS.Stream(ctx, bus.AuditStreamName)
	require.NoError(t, err)
	stored := func() uint64 {
		info, err := audit.Info(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, info.State.Bytes, uint64(auditMax))
		return info.State.LastSeq
	}
	// records checks the stored audit: no request id over reqid.MaxLen.
	records := func() []*eventsv1.AuditEvent {
		info, err := audit.Info(ctx)
		require.NoError(t, err)
		var evs []*eventsv1.AuditEvent
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			msg, err := audit.GetMsg(ctx, seq)
			require.NoError(t, err)
			ev := &eventsv1.AuditEvent{}
			require.NoError(t, proto.Unmarshal(msg.Data, ev))
			require.True(t, reqid.Valid(ev.RequestId), "stored request id of %d bytes", len(ev.RequestId))
			evs = append(evs, ev)
		}
		return evs
	}
	huge := strings.Repeat("r", 15<<10) // under server.MaxMetadataBytes with the other metadata
	flood := func(client string, n int) {
		for i := 0; i < n; i++ {
			md := metadata.Pairs("x-request-id", huge, "x-forwarded-for", client)
			_, err := env.Client.CreateWorkspace(metadata.NewOutgoingContext(ctx, md), &workspacev1.CreateWorkspaceRequest{Name: "flood"})
			require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
		}
	}

	// One client: its burst, then one a second.
	began, seq0 := time.Now(), stored()
	flood("192.0.2.1", 100)
	n := stored() - seq0
	require.LessOrEqual(t, float64(n), auth.RefusedAuditBurst+auth.RefusedAuditPerSecond*time.Since(began).Seconds()+1)
	require.Less(t, n, uint64(100))
	evs := records()
	require.NotEmpty(t, evs)
	require.Equal(t, []string{"anonymous", "refused"}, []string{evs[len(evs)-1].Subject, evs[len(evs)-1].Result})

	// Many clients (REST ones too): the total budget.
	const clients, perClient = 20, 60
	for c := 0; c < clients; c++ {
		flood(fmt.Sprintf("198.51.100.%d", c), perClient)
	}
	for i := 0; i < 20; i++ {
		req, err := http.NewRequest("POST", env.URL+"/api/v1/workspaces", strings.NewReader(`{"name":"flood"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", strings.Repeat("r", 32<<10))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	n = stored() - seq0
	require.LessOrEqual(t, float64(n), auth.RefusedAuditTotalBurst+auth.RefusedAuditTotalPerSecond*time.Since(began).Seconds()+1)
	require.Less(t, n, uint64(100+clients*perClient+20))

	// Creates go on, and are audited in the full audit stream.
	resp, after := do(t, env, automationToken, "POST", "/api/v1/workspaces", map[string]any{"name": "after-flood"})
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", after)
	for _, id := range []any{before["id"], after["id"]} {
		rec, err := env.Store.Get(ctx, id.(string))
		require.NoError(t, err)
		require.Equal(t, "token:ci-bot", rec.Workspace.Owner)
	}
	info, err := audit.Info(ctx)
	require.NoError(t, err)
	require.LessOrEqual(t, info.State.Bytes, uint64(auditMax))
	require.Greater(t, info.State.FirstSeq, seq0, "the oldest records made room")
	evs = records()
	last := evs[len(evs)-1]
	require.Equal(t, []string{"token:ci-bot", "allowed", "CreateWorkspace", after["id"].(string)},
		[]string{last.Subject, last.Result, last.Method, last.WorkspaceId})
}
