// Package files gives the runtime API the workspace's files, every path
// confined under one root directory: a path that climbs out with `..`, or
// through a symlink that resolves outside the root, is refused, and nothing
// is ever read or written outside. Confinement rests on os.Root, which
// resolves each component itself and so cannot be raced by a symlink swap.
package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Errors, each wrapped with the path it is about.
var (
	ErrInvalidPath = errors.New("invalid path")
	ErrOutsideRoot = errors.New("path leads outside the workspace root")
	ErrNotFound    = errors.New("no such file or directory")
	ErrExists      = errors.New("file exists")
	ErrNotDir      = errors.New("not a directory")
	ErrIsDir       = errors.New("is a directory")
	ErrNotEmpty    = errors.New("directory not empty")
	ErrTooLarge    = errors.New("file is over the size cap")
)

// Limits bound what one call may move.
type Limits struct {
	// MaxFileBytes caps a read or a write.
	MaxFileBytes int64
	// MaxListEntries caps a listing; more are cut off and reported.
	MaxListEntries int
	// MaxDepth caps a listing's depth.
	MaxDepth int
}

// FS is a workspace's files under a root directory.
type FS struct {
	root   *os.Root
	dir    string
	limits Limits
}

// Open returns the files under dir, which must exist.
func Open(dir string, l Limits) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open root: %w", err)
	}
	return &FS{root: r, dir: abs, limits: l}, nil
}

// Close releases the root.
func (f *FS) Close() error { return f.root.Close() }

// Dir is the absolute root directory.
func (f *FS) Dir() string { return f.dir }

// Info describes one file. Path is relative to the root, slash-separated.
type Info struct {
	Path    string    `json:"path"`
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"`
	ModTime time.Time `json:"mod_time"`
	// Target is where a symlink points, as written in the link.
	Target string `json:"target,omitempty"`
}

// Rel turns an API path into one relative to the root: relative paths are
// taken from the root, absolute ones must lie under it. The root itself is
// ".". A path that climbs out is ErrOutsideRoot.
func (f *FS) Rel(p string) (string, error) {
	if p == "" || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w: %q", ErrInvalidPath, p)
	}
	if filepath.IsAbs(p) {
		r, err := filepath.Rel(f.dir, filepath.Clean(p))
		if err != nil {
			return "", fmt.Errorf("%w: %s", ErrOutsideRoot, p)
		}
		p = r
	}
	p = filepath.Clean(p)
	if p != "." && !filepath.IsLocal(p) {
		return "", fmt.Errorf("%w: %s", ErrOutsideRoot, p)
	}
	return p, nil
}

// Abs is the absolute path of a path Rel accepted, for a working directory.
// The directory itself is checked through the root.
func (f *FS) Abs(p string) (string, error) {
	rel, err := f.Rel(p)
	if err != nil {
		return "", err
	}
	st, err := f.root.Stat(rel)
	if err != nil {
		return "", classify(err, p)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%w: %s", ErrNotDir, p)
	}
	return filepath.Join(f.dir, rel), nil
}

// classify maps an os error to the package's errors.
func classify(err error, p string) error {
	var sentinel error
	switch {
	case err == nil:
		return nil
	case isEscape(err):
		sentinel = ErrOutsideRoot
	case errors.Is(err, fs.ErrNotExist):
		sentinel = ErrNotFound
	case errors.Is(err, syscall.ENOTEMPTY):
		sentinel = ErrNotEmpty
	case errors.Is(err, fs.ErrExist):
		sentinel = ErrExists
	case errors.Is(err, syscall.ENOTDIR):
		sentinel = ErrNotDir
	case errors.Is(err, syscall.EISDIR):
		sentinel = ErrIsDir
	case errors.Is(err, syscall.ELOOP):
		sentinel = ErrInvalidPath
	default:
		return fmt.Errorf("%s: %w", p, err)
	}
	return fmt.Errorf("%w: %s", sentinel, p)
}

// isEscape recognises os.Root's refusal: the standard library keeps its
// error unexported, so its text is the only handle.
func isEscape(err error) bool {
	return strings.Contains(err.Error(), "path escapes from parent")
}

func info(rel string, fi fs.FileInfo) Info {
	i := Info{
		Path: filepath.ToSlash(rel), Name: fi.Name(), Size: fi.Size(),
		Mode: fi.Mode().Perm().String(), ModTime: fi.ModTime().UTC(),
	}
	if rel == "." {
		i.Name = "."
	}
	switch {
	case fi.Mode().IsRegular():
		i.Type = "file"
	case fi.IsDir():
		i.Type, i.Size = "dir", 0
	case fi.Mode()&fs.ModeSymlink != 0:
		i.Type = "symlink"
	default:
		i.Type = "other"
	}
	return i
}
