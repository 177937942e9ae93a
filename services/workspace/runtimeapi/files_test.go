package runtimeapi_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type fileInfo struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Target string `json:"target"`
}

func TestFilesRoundTrip(t *testing.T) {
	h := newHarness(t)
	var info fileInfo
	h.call(http.MethodPut, "/v1/files/content?path=docs/a.txt&parents=true", strings.NewReader("hello"), 200, &info)
	require.Equal(t, fileInfo{Path: "docs/a.txt", Name: "a.txt", Type: "file", Size: 5}, info)

	resp := h.do(http.MethodGet, "/v1/files/content?path=docs/a.txt", nil)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "hello", string(body))

	h.call(http.MethodPost, "/v1/files/mkdir", map[string]any{"path": "docs/deep/er", "parents": true}, 201, &info)
	require.Equal(t, "dir", info.Type)
	var list struct {
		Entries   []fileInfo `json:"entries"`
		Truncated bool       `json:"truncated"`
	}
	h.call(http.MethodGet, "/v1/files/list?path=docs", nil, 200, &list)
	require.Equal(t, []string{"docs/a.txt", "docs/deep"}, paths(list.Entries))
	h.call(http.MethodGet, "/v1/files/list?path=.&depth=3", nil, 200, &list)
	require.Equal(t, []string{"docs", "docs/a.txt", "docs/deep", "docs/deep/er"}, paths(list.Entries))

	h.call(http.MethodGet, "/v1/files/stat?path="+filepath.Join(h.root, "docs/a.txt"), nil, 200, &info)
	require.Equal(t, "docs/a.txt", info.Path, "an absolute path under the root is accepted")

	h.call(http.MethodPost, "/v1/files/move", map[string]any{"from": "docs/a.txt", "to": "docs/deep/b.txt"}, 200, &info)
	require.Equal(t, "docs/deep/b.txt", info.Path)
	h.refuse(http.MethodGet, "/v1/files/stat?path=docs/a.txt", nil, 404, "FILE_NOT_FOUND")

	h.refuse(http.MethodDelete, "/v1/files?path=docs", nil, 409, "DIRECTORY_NOT_EMPTY")
	h.call(http.MethodDelete, "/v1/files?path=docs/deep/b.txt", nil, 204, nil)
	h.call(http.MethodDelete, "/v1/files?path=docs&recursive=true", nil, 204, nil)
	h.call(http.MethodGet, "/v1/files/list?path=.", nil, 200, &list)
	require.Empty(t, list.Entries)
}

func paths(entries []fileInfo) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Path)
	}
	return out
}

// TestFilesConfined: `..`, absolute paths elsewhere and a symlink to /etc
// are refused with a coded 4xx, and nothing is written outside the root.
func TestFilesConfined(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, os.Symlink("/etc", filepath.Join(h.root, "etc")))
	require.NoError(t, os.Symlink("../outside.txt", filepath.Join(h.root, "up")))
	require.NoError(t, os.WriteFile(filepath.Join(h.root, "in.txt"), []byte("x"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(h.root, "dir"), 0o755))
	parent := filepath.Dir(h.root)

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"write with ..", http.MethodPut, "/v1/files/content?path=../outside.txt", "x", 403, "PATH_OUTSIDE_ROOT"},
		{"write with nested ..", http.MethodPut, "/v1/files/content?path=dir/../../outside.txt", "x", 403, "PATH_OUTSIDE_ROOT"},
		{"write through a symlink to /etc", http.MethodPut, "/v1/files/content?path=etc/aileron-escape&parents=true", "x", 403, "PATH_OUTSIDE_ROOT"},
		{"write onto a symlink pointing out", http.MethodPut, "/v1/files/content?path=up/x", "x", 403, "PATH_OUTSIDE_ROOT"},
		{"read through a symlink", http.MethodGet, "/v1/files/content?path=etc/passwd", nil, 403, "PATH_OUTSIDE_ROOT"},
		{"read a symlink pointing out", http.MethodGet, "/v1/files/content?path=up", nil, 403, "PATH_OUTSIDE_ROOT"},
		{"read an absolute path elsewhere", http.MethodGet, "/v1/files/content?path=/etc/passwd", nil, 403, "PATH_OUTSIDE_ROOT"},
		{"list through a symlink", http.MethodGet, "/v1/files/list?path=etc", nil, 403, "PATH_OUTSIDE_ROOT"},
		{"stat with ..", http.MethodGet, "/v1/files/stat?path=..", nil, 403, "PATH_OUTSIDE_ROOT"},
		{"mkdir through a symlink", http.MethodPost, "/v1/files/mkdir", map[string]any{"path": "etc/aileron-dir", "parents": true}, 403, "PATH_OUTSIDE_ROOT"},
		{"move out", http.MethodPost, "/v1/files/move", map[string]any{"from": "in.txt", "to": "etc/aileron-moved"}, 403, "PATH_OUTSIDE_ROOT"},
		{"move in from outside", http.MethodPost, "/v1/files/move", map[string]any{"from": "etc/hostname", "to": "stolen"}, 403, "PATH_OUTSIDE_ROOT"},
		{"remove through a symlink", http.MethodDelete, "/v1/files?path=etc/hostname", nil, 403, "PATH_OUTSIDE_ROOT"},
		{"remove the root", http.MethodDelete, "/v1/files?path=.&recursive=true", nil, 400, "PATH_INVALID"},
		{"empty path", http.MethodGet, "/v1/files/stat?path=", nil, 400, "PATH_INVALID"},
		{"read a directory", http.MethodGet, "/v1/files/content?path=dir", nil, 409, "FILE_IS_DIRECTORY"},
		{"list a file", http.MethodGet, "/v1/files/list?path=in.txt", nil, 409, "FILE_NOT_DIRECTORY"},
		{"mkdir existing", http.MethodPost, "/v1/files/mkdir", map[string]any{"path": "dir"}, 409, "FILE_EXISTS"},
		{"move onto existing", http.MethodPost, "/v1/files/move", map[string]any{"from": "in.txt", "to": "dir"}, 409, "FILE_EXISTS"},
		{"write over the cap", http.MethodPut, "/v1/files/content?path=big", strings.NewReader(strings.Repeat("x", maxFileBytes+1)), 413, "FILE_TOO_LARGE"},
		{"bad depth", http.MethodGet, "/v1/files/list?path=.&depth=0", nil, 400, "REQUEST_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.refuse(tt.method, tt.path, tt.body, tt.status, tt.code)
		})
	}

	for _, p := range []string{"/etc/aileron-escape", "/etc/aileron-dir", "/etc/aileron-moved", filepath.Join(parent, "outside.txt")} {
		require.NoFileExists(t, p)
		require.NoDirExists(t, p)
	}
	require.FileExists(t, "/etc/hostname")
	entries, err := os.ReadDir(h.root)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"dir", "etc", "in.txt", "up"}, names, "no partial or temporary file left")

	var info fileInfo
	h.call(http.MethodGet, "/v1/files/stat?path=etc", nil, 200, &info)
	require.Equal(t, fileInfo{Path: "etc", Name: "etc", Type: "symlink", Target: "/etc"}, fileInfo{Path: info.Path, Name: info.Name, Type: info.Type, Target: info.Target},
		"stat describes the link without following it")
	h.call(http.MethodDelete, "/v1/files?path=etc", nil, 204, nil)
	require.DirExists(t, "/etc", "removing the link leaves its target")
}
