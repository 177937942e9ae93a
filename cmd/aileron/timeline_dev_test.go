package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireCreateTimeline checks, on `aileron dev` with the real engine, the
// timeline of a workspace that has just been created and reached running:
// over REST, the create's steps in order of start from requested to running
// with a duration each, the docker provisioner's steps among them; and the
// CLI prints them.
func requireCreateTimeline(t *testing.T, base, id string) {
	t.Helper()
	tl := getJSON(t, base+"/api/v1/workspaces/"+id+"/timeline")
	trs, _ := tl["transitions"].([]any)
	require.Len(t, trs, 1, "%v", tl)
	tr := trs[0].(map[string]any)
	require.Equal(t, "creating", tr["state"])
	require.Equal(t, "running", tr["result"])
	var names []string
	var last time.Time
	for _, s := range tr["steps"].([]any) {
		step := s.(map[string]any)
		names = append(names, strings.TrimSpace(step["name"].(string)+" "+step["target"].(string)))
		start, err := time.Parse(time.RFC3339Nano, step["start_time"].(string))
		require.NoError(t, err)
		require.False(t, start.Before(last), "steps in order of start: %v", names)
		last = start
		require.Regexp(t, `^\d+(\.\d+)?s$`, step["duration"], "%s has a duration", names[len(names)-1])
	}
	require.Equal(t, "requested", names[0])
	require.Equal(t, "running", names[len(names)-1])
	for _, want := range []string{"volume_ready", "networks_ready", "image_present aileron/workspace-runtime:dev",
		"container_started gateway", "container_started runtime", "health_check_passed runtime", "health_check_passed terminal"} {
		require.Contains(t, names, want)
	}

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"workspace", "timeline", id, "--api", base}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, exitOK, code, errOut.String())
	require.Regexp(t, `^creating → running \(generation 1\), \S+, took \d+\.\d{3}s\n`, out.String())
	require.Regexp(t, `(?m)^\+\d+\.\d{3}s\s+\d+\.\d{3}s\s+health_check_passed\s+runtime\s+\|[ =]+\|$`, out.String())
}
