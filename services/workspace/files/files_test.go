package files

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRel(t *testing.T) {
	root := t.TempDir()
	f, err := Open(root, Limits{MaxFileBytes: 1, MaxListEntries: 1, MaxDepth: 1})
	require.NoError(t, err)
	defer f.Close()
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{in: "a/b", want: "a/b"},
		{in: "./a//b/", want: "a/b"},
		{in: "a/../b", want: "b"},
		{in: ".", want: "."},
		{in: root, want: "."},
		{in: filepath.Join(root, "x"), want: "x"},
		{in: "..", err: ErrOutsideRoot},
		{in: "a/../../b", err: ErrOutsideRoot},
		{in: "/etc/passwd", err: ErrOutsideRoot},
		{in: root + "/../x", err: ErrOutsideRoot},
		{in: "", err: ErrInvalidPath},
		{in: "a\x00b", err: ErrInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := f.Rel(tt.in)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
