package runtimeapi_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// change is one line of a watch.
type change struct {
	Type string `json:"type"`
	Path string `json:"path"`
}

// nextChange reads the watch until a line of typ and path (the kernel may
// report more, e.g. a chmod or several writes).
func nextChange(t *testing.T, s *stream, typ, path string) {
	t.Helper()
	for {
		line, err := s.r.ReadBytes('\n')
		require.NoError(t, err, "watch ended before %s %s", typ, path)
		var c change
		require.NoError(t, json.Unmarshal(line, &c), "%s", line)
		if c.Type == typ && c.Path == path {
			return
		}
	}
}

func TestFilesWatch(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, os.MkdirAll(filepath.Join(h.root, "src/deep"), 0o755))
	w := h.stream(http.MethodGet, "/v1/files/watch", nil)
	nextChange(t, w, "ready", "")

	h.call(http.MethodPut, "/v1/files/content?path=a.txt", "one", 200, nil)
	nextChange(t, w, "create", "a.txt")
	require.NoError(t, os.WriteFile(filepath.Join(h.root, "src/deep/b.go"), []byte("package b"), 0o644))
	nextChange(t, w, "create", "src/deep/b.go")
	// A directory made after the watch started is followed too.
	h.call(http.MethodPost, "/v1/files/mkdir", map[string]any{"path": "new"}, 201, nil)
	nextChange(t, w, "create", "new")
	require.NoError(t, os.WriteFile(filepath.Join(h.root, "new/c.txt"), []byte("c"), 0o644))
	nextChange(t, w, "create", "new/c.txt")
	h.call(http.MethodDelete, "/v1/files?path=a.txt", nil, 204, nil)
	nextChange(t, w, "remove", "a.txt")
	w.close()

	// A watch of a subdirectory reports paths from the root.
	sub := h.stream(http.MethodGet, "/v1/files/watch?path=src", nil)
	nextChange(t, sub, "ready", "")
	require.NoError(t, os.WriteFile(filepath.Join(h.root, "src/x"), nil, 0o644))
	nextChange(t, sub, "create", "src/x")
	sub.close()

	h.refuse(http.MethodGet, "/v1/files/watch?path=../..", nil, 403, "PATH_OUTSIDE_ROOT")
	require.NoError(t, os.Symlink("/etc", filepath.Join(h.root, "out")))
	h.refuse(http.MethodGet, "/v1/files/watch?path=out", nil, 403, "PATH_OUTSIDE_ROOT")
	h.refuse(http.MethodGet, "/v1/files/watch?path=a.txt", nil, 404, "FILE_NOT_FOUND")

	// The watches closed above give their places back once the daemon
	// sees their connections end: open 8 as places come free.
	var open []*stream
	require.Eventually(t, func() bool {
		resp := h.do(http.MethodGet, "/v1/files/watch", nil)
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return false
		}
		s := &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
		nextChange(t, s, "ready", "")
		open = append(open, s)
		return len(open) == 8
	}, 10*time.Second, 20*time.Millisecond)
	h.refuse(http.MethodGet, "/v1/files/watch", nil, 429, "WATCH_LIMIT_REACHED")
	for _, s := range open {
		s.close()
	}
	require.Eventually(t, func() bool {
		resp := h.do(http.MethodGet, "/v1/files/watch", nil)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond, "a closed watch gives its place back")
}
