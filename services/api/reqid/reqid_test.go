package reqid_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/api/reqid"
)

func TestSanitize(t *testing.T) {
	for _, id := range []string{"req-123", strings.Repeat("a", reqid.MaxLen), "~ !"} {
		require.Equal(t, id, reqid.Sanitize(id))
	}
	for _, id := range []string{"", strings.Repeat("a", reqid.MaxLen+1), "tab\there", "é", "nul\x00"} {
		got := reqid.Sanitize(id)
		require.NotEqual(t, id, got)
		require.Len(t, got, 16)
		require.True(t, reqid.Valid(got))
	}
	require.NotEqual(t, reqid.New(), reqid.New())
}
