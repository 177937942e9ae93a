package files

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Stat describes the file at p without following a final symlink.
func (f *FS) Stat(p string) (Info, error) {
	rel, err := f.Rel(p)
	if err != nil {
		return Info{}, err
	}
	return f.lstat(rel, p)
}

func (f *FS) lstat(rel, p string) (Info, error) {
	fi, err := f.root.Lstat(rel)
	if err != nil {
		return Info{}, classify(err, p)
	}
	i := info(rel, fi)
	if i.Type == "symlink" {
		i.Target, _ = f.root.Readlink(rel)
	}
	return i, nil
}

// List describes what lies under the directory p, depth levels deep (1:
// its entries), in lexical order; truncated says the entry cap cut it off.
// Symlinks are listed, never followed.
func (f *FS) List(p string, depth int) (entries []Info, truncated bool, err error) {
	rel, err := f.Rel(p)
	if err != nil {
		return nil, false, err
	}
	depth = max(1, min(depth, f.limits.MaxDepth))
	st, err := f.root.Stat(rel)
	if err != nil {
		return nil, false, classify(err, p)
	}
	if !st.IsDir() {
		return nil, false, fmt.Errorf("%w: %s", ErrNotDir, p)
	}
	base := filepath.ToSlash(rel)
	errFull := errors.New("full")
	walk := func(path string, d fs.DirEntry, werr error) error {
		if werr != nil || path == base {
			return nil // unreadable entries are skipped, not fatal
		}
		if len(entries) >= f.limits.MaxListEntries {
			truncated = true
			return errFull
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		entries = append(entries, info(path, fi))
		if d.IsDir() && levels(base, path) >= depth {
			return fs.SkipDir
		}
		return nil
	}
	if err := fs.WalkDir(f.root.FS(), base, walk); err != nil && !errors.Is(err, errFull) {
		return nil, false, classify(err, p)
	}
	return entries, truncated, nil
}

// levels counts how far below base path lies.
func levels(base, path string) int {
	rel, _ := filepath.Rel(base, path)
	n := 1
	for _, c := range rel {
		if c == '/' {
			n++
		}
	}
	return n
}

// Open opens the regular file at p for reading; one over the size cap is
// ErrTooLarge.
func (f *FS) Open(p string) (*os.File, Info, error) {
	rel, err := f.Rel(p)
	if err != nil {
		return nil, Info{}, err
	}
	file, err := f.root.Open(rel)
	if err != nil {
		return nil, Info{}, classify(err, p)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, Info{}, classify(err, p)
	}
	switch {
	case fi.IsDir():
		file.Close()
		return nil, Info{}, fmt.Errorf("%w: %s", ErrIsDir, p)
	case !fi.Mode().IsRegular():
		file.Close()
		return nil, Info{}, fmt.Errorf("%w: %s is not a regular file", ErrInvalidPath, p)
	case fi.Size() > f.limits.MaxFileBytes:
		file.Close()
		return nil, Info{}, fmt.Errorf("%w: %s has %d bytes, the cap is %d", ErrTooLarge, p, fi.Size(), f.limits.MaxFileBytes)
	}
	return file, info(rel, fi), nil
}

// Write replaces the file at p with what r holds, creating the parent
// directories if parents. The content goes to a temporary file beside it
// first: a write over the cap, or one that fails, leaves nothing behind.
func (f *FS) Write(p string, r io.Reader, parents bool) (Info, error) {
	rel, err := f.Rel(p)
	if err != nil {
		return Info{}, err
	}
	if rel == "." {
		return Info{}, fmt.Errorf("%w: %s is the root", ErrIsDir, p)
	}
	dir := filepath.Dir(rel)
	if parents {
		if err := f.root.MkdirAll(dir, 0o755); err != nil {
			return Info{}, classify(err, p)
		}
	}
	tmp := filepath.Join(dir, ".aileron-write-"+randomSuffix())
	file, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return Info{}, classify(err, p)
	}
	n, err := io.Copy(file, io.LimitReader(r, f.limits.MaxFileBytes+1))
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		err = fmt.Errorf("write %s: %w", p, err)
	case n > f.limits.MaxFileBytes:
		err = fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, p, f.limits.MaxFileBytes)
	default:
		err = classify(f.root.Rename(tmp, rel), p)
	}
	if err != nil {
		_ = f.root.Remove(tmp)
		return Info{}, err
	}
	return f.lstat(rel, p)
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Mkdir creates the directory p, and its parents if parents (then an
// existing directory is fine).
func (f *FS) Mkdir(p string, parents bool) (Info, error) {
	rel, err := f.Rel(p)
	if err != nil {
		return Info{}, err
	}
	if parents {
		err = f.root.MkdirAll(rel, 0o755)
	} else {
		err = f.root.Mkdir(rel, 0o755)
	}
	if err != nil {
		return Info{}, classify(err, p)
	}
	return f.lstat(rel, p)
}

// Move renames from to to; an existing to is ErrExists unless overwrite.
func (f *FS) Move(from, to string, overwrite bool) (Info, error) {
	src, err := f.Rel(from)
	if err != nil {
		return Info{}, err
	}
	dst, err := f.Rel(to)
	if err != nil {
		return Info{}, err
	}
	if src == "." || dst == "." {
		return Info{}, fmt.Errorf("%w: the root cannot be moved or replaced", ErrInvalidPath)
	}
	if _, err := f.root.Lstat(src); err != nil {
		return Info{}, classify(err, from)
	}
	if _, err := f.root.Lstat(dst); err == nil && !overwrite {
		return Info{}, fmt.Errorf("%w: %s", ErrExists, to)
	}
	if err := f.root.Rename(src, dst); err != nil {
		return Info{}, classify(err, to)
	}
	return f.lstat(dst, to)
}

// Remove deletes p: a file, a symlink (never its target), an empty
// directory, or any directory with its content if recursive.
func (f *FS) Remove(p string, recursive bool) error {
	rel, err := f.Rel(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return fmt.Errorf("%w: the root cannot be removed", ErrInvalidPath)
	}
	if _, err := f.root.Lstat(rel); err != nil {
		return classify(err, p)
	}
	if recursive {
		return classify(f.root.RemoveAll(rel), p)
	}
	return classify(f.root.Remove(rel), p)
}
