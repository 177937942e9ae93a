package logtest_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/logtest"
)

// TestUnattributed finds the line that names the workspace only in its
// message, and not the lines that carry its workspace_id or do not name it.
func TestUnattributed(t *testing.T) {
	var lines logtest.Lines
	log := slog.New(slog.NewTextHandler(&lines, nil))
	log.Info("created ws-abc123-runtime")
	log.Info("created", "workspace_id", "abc123", "name", "ws-abc123-runtime")
	log.Info("started")
	log.Info("created", "workspace_id", "other", "name", "ws-abc123-browser")

	got := lines.Unattributed("abc123")
	require.Len(t, got, 2, lines.String())
	require.Contains(t, got[0], "msg=\"created ws-abc123-runtime\"")
	require.Contains(t, got[1], "workspace_id=other")
	require.Equal(t, 1, lines.Count("workspace_id=abc123"))
	require.Equal(t, 4, lines.Count("level=INFO"))
	require.Equal(t, 4, lines.Count())
}

// TestProblems keeps the last warnings and errors.
func TestProblems(t *testing.T) {
	var lines logtest.Lines
	log := slog.New(slog.NewTextHandler(&lines, nil))
	log.Warn("first")
	log.Info("fine")
	log.Error("second")
	log.Warn("third")
	require.Equal(t, 2, strings.Count(lines.Problems(2), "\n")+1)
	require.NotContains(t, lines.Problems(2), "first")
	require.Contains(t, lines.Problems(2), "msg=second")
	require.Contains(t, lines.Problems(10), "msg=first")
	require.NotContains(t, lines.Problems(10), "fine")
	require.Empty(t, new(logtest.Lines).Problems(3))
}
