package canvas

import (
	"context"
	"fmt"
	"path"
	"strings"

	"aileron.dev/services/workspace/files"
)

const (
	// maxPathBytes bounds a request path.
	maxPathBytes = 4096
	// maxLinks bounds the symlinks one path may pass through, as the
	// kernel's ELOOP does.
	maxLinks = 40
)

// cleanPath checks a request's URL path and returns it relative to the
// canvas folder ("" for the folder itself), and whether it ends in a
// slash. A `.` or `..` segment, a backslash or a NUL is refused rather
// than cleaned: a path that tries to climb is not a typo.
func cleanPath(urlPath string) (rel string, slash bool, err error) {
	if len(urlPath) > maxPathBytes || !strings.HasPrefix(urlPath, "/") {
		return "", false, fmt.Errorf("%w: %.64q", ErrPathInvalid, urlPath)
	}
	if strings.ContainsAny(urlPath, "\\\x00") {
		return "", false, fmt.Errorf("%w: %q holds a backslash or a NUL", ErrPathInvalid, urlPath)
	}
	var segs []string
	for s := range strings.SplitSeq(urlPath[1:], "/") {
		switch s {
		case "":
			continue
		case ".", "..":
			return "", false, fmt.Errorf("%w: %q holds a %q segment", ErrPathInvalid, urlPath, s)
		}
		segs = append(segs, s)
	}
	return strings.Join(segs, "/"), strings.HasSuffix(urlPath, "/"), nil
}

// resolve describes what rel (relative to the canvas folder, from
// cleanPath) names, following symlinks only while they stay inside the
// folder: the runtime confines every path to the workspace, but a link
// in the canvas folder to /workspace/secret must not publish the secret.
// Each component is looked at through the runtime, so the answer's Path is
// symlink-free, relative to the workspace root, and safe to read.
func (s *Server) resolve(ctx context.Context, rel string) (files.Info, error) {
	info, err := s.rt.stat(ctx, s.dir)
	if err != nil {
		return files.Info{}, err
	}
	switch info.Type {
	case "symlink":
		return files.Info{}, fmt.Errorf("%w: the canvas folder %s is a symlink", ErrOutside, s.dir)
	case "dir":
	default:
		return files.Info{}, fmt.Errorf("%w: the canvas folder %s is not a directory", ErrNotFound, s.dir)
	}
	pending := split(rel)
	cur, links := "", 0 // cur: resolved so far, relative to the folder, no symlinks
	for len(pending) > 0 {
		next := path.Join(cur, pending[0])
		pending = pending[1:]
		if info, err = s.rt.stat(ctx, path.Join(s.dir, next)); err != nil {
			return files.Info{}, err
		}
		if info.Type != "symlink" {
			if info.Type != "dir" && len(pending) > 0 {
				return files.Info{}, fmt.Errorf("%w: %s is not a directory", ErrNotFound, next)
			}
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return files.Info{}, fmt.Errorf("%w: %s: too many levels of symlinks", ErrPathInvalid, rel)
		}
		target, err := s.linkTarget(ctx, cur, info.Target)
		if err != nil {
			return files.Info{}, fmt.Errorf("%w (the link %s points to %s)", err, next, info.Target)
		}
		pending, cur = append(split(target), pending...), ""
	}
	return info, nil
}

// linkTarget returns where a link in the folder's directory dir (resolved,
// relative to the folder) points, relative to the folder; a target outside
// it is ErrOutside.
func (s *Server) linkTarget(ctx context.Context, dir, target string) (string, error) {
	var ws string // the target relative to the workspace root
	if path.IsAbs(target) {
		// Only the runtime knows where its root is; its stat answers the
		// path relative to it, or refuses a path outside.
		info, err := s.rt.stat(ctx, target)
		if err != nil {
			return "", err
		}
		ws = info.Path
	} else {
		// dir holds no symlinks, so `..` in the target can be read lexically.
		ws = path.Join(s.dir, dir, target)
	}
	switch {
	case s.dir == "." && ws != ".." && !strings.HasPrefix(ws, "../"):
		return ws, nil // split drops a lone "."
	case ws == s.dir:
		return "", nil
	case strings.HasPrefix(ws, s.dir+"/"):
		return ws[len(s.dir)+1:], nil
	}
	return "", ErrOutside
}

// split cuts a slash-separated relative path into its components.
func split(p string) []string {
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}
