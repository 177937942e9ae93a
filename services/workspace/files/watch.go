package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// Change is one event of a watch. Path is relative to the root.
type Change struct {
	// Type is create, write, remove, rename or chmod; or, with no path,
	// ready (the watches are set: later changes are reported), overflow
	// (the kernel dropped events: rescan) or partial (more directories
	// than the cap: those past it are not watched).
	Type string `json:"type"`
	Path string `json:"path,omitempty"`
}

// Watch reports changes under the directory p (a path Rel accepts) and
// its subdirectories, those created later included, through emit until ctx
// ends or emit fails. At most maxDirs directories are watched. Symlinks
// are not followed.
func (f *FS) Watch(ctx context.Context, p string, maxDirs int, emit func(Change) error) error {
	dir, err := f.Abs(p)
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	wt := &watch{fs: f, w: w, max: maxDirs, emit: emit}
	if err := wt.addTree(dir); err != nil {
		return err
	}
	if err := emit(Change{Type: "ready"}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-w.Errors:
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				if err := emit(Change{Type: "overflow"}); err != nil {
					return err
				}
				continue
			}
			return err
		case ev := <-w.Events:
			if err := wt.handle(ev); err != nil {
				return err
			}
		}
	}
}

type watch struct {
	fs      *FS
	w       *fsnotify.Watcher
	max     int
	dirs    int
	partial bool
	emit    func(Change) error
}

// addTree watches dir and every directory under it, up to the cap.
func (wt *watch) addTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // gone or unreadable meanwhile: nothing to watch
		}
		if wt.dirs >= wt.max {
			if !wt.partial {
				wt.partial = true
				if err := wt.emit(Change{Type: "partial"}); err != nil {
					return err
				}
			}
			return filepath.SkipAll
		}
		if err := wt.w.Add(path); err != nil {
			return nil // removed meanwhile, or not readable
		}
		wt.dirs++
		return nil
	})
}

var ops = []struct {
	op   fsnotify.Op
	name string
}{
	{fsnotify.Create, "create"}, {fsnotify.Write, "write"}, {fsnotify.Remove, "remove"},
	{fsnotify.Rename, "rename"}, {fsnotify.Chmod, "chmod"},
}

func (wt *watch) handle(ev fsnotify.Event) error {
	rel, err := filepath.Rel(wt.fs.dir, ev.Name)
	if err != nil || !filepath.IsLocal(rel) {
		return nil
	}
	if ev.Has(fsnotify.Create) {
		if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
			if err := wt.addTree(ev.Name); err != nil {
				return err
			}
		}
	}
	for _, o := range ops {
		if ev.Has(o.op) {
			if err := wt.emit(Change{Type: o.name, Path: filepath.ToSlash(rel)}); err != nil {
				return err
			}
		}
	}
	return nil
}
