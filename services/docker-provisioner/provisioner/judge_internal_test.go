package provisioner

import (
	"errors"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"aileron.dev/pkg/workspace"
)

// A service that was healthy and stops answering is restarting, with the
// whole health timeout from that moment to come back; a container never seen
// healthy is starting, timed from its start.
func TestJudgeHealthRestartingAfterHealthy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HealthTimeout = Duration(2 * time.Minute)
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	p := &Provisioner{cfg: cfg, now: func() time.Time { return now }, healthy: map[string]map[workspace.Service]seenHealthy{}}
	started := now.Add(-time.Hour)
	browser := func(id string) map[workspace.Service]container.InspectResponse {
		return map[workspace.Service]container.InspectResponse{workspace.ServiceBrowser: {ContainerJSONBase: &container.ContainerJSONBase{
			ID: id, State: &container.State{StartedAt: started.Format(time.RFC3339Nano)}}}}
	}
	names := []workspace.Service{workspace.ServiceBrowser}
	down := map[workspace.Service]error{workspace.ServiceBrowser: errors.New("503")}
	judge := func(cs map[workspace.Service]container.InspectResponse, errs map[workspace.Service]error) (workspace.ServiceState, int) {
		st := p.newStatus(map[workspace.Service]bool{workspace.ServiceBrowser: true}, workspace.ServicePending)
		expired := p.judgeHealth("w1", st, names, cs, errs)
		return workspace.ServiceState(st[workspace.ServiceBrowser].GetState()), len(expired)
	}

	if state, n := judge(browser("c1"), nil); state != workspace.ServiceRunning || n != 0 {
		t.Fatalf("healthy: %s, %d expired", state, n)
	}
	now = now.Add(time.Minute)
	if state, n := judge(browser("c1"), down); state != workspace.ServiceRestarting || n != 0 {
		t.Fatalf("a minute after it was healthy: %s, %d expired; want restarting, none", state, n)
	}
	now = now.Add(2 * time.Minute)
	if state, n := judge(browser("c1"), down); state != workspace.ServiceFailed || n != 1 {
		t.Fatalf("three minutes after it was healthy: %s, %d expired; want failed", state, n)
	}
	// Another container of the service: never seen healthy, timed from its
	// start an hour ago.
	if state, n := judge(browser("c2"), down); state != workspace.ServiceFailed || n != 1 {
		t.Fatalf("a new container an hour old, never healthy: %s, %d expired", state, n)
	}
}
