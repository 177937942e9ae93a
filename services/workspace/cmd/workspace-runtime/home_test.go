package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnsureHome: a HOME on a fresh volume is created private to the user;
// an existing one is left as it is.
func TestEnsureHome(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	home := filepath.Join(t.TempDir(), "workspace", ".home")
	ensureHome(home, log)
	fi, err := os.Stat(home)
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	require.NoError(t, os.Chmod(home, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".bash_history"), []byte("ls\n"), 0o600))
	ensureHome(home, log)
	fi, err = os.Stat(home)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "an existing home is not touched")
	_, err = os.Stat(filepath.Join(home, ".bash_history"))
	require.NoError(t, err)

	ensureHome("", log)
	ensureHome("relative/home", log)
	_, err = os.Stat("relative")
	require.ErrorIs(t, err, os.ErrNotExist, "a relative HOME is ignored")
}
