package provisioner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
)

// errPull marks a failed image pull: the workspace fails with IMAGE_PULL_FAILED.
var errPull = errors.New("image pull failed")

// imageTTL is how long a successful image check is trusted before asking
// the engine again (a create with a vanished image fails and is retried).
const imageTTL = time.Minute

// hasImage reports whether the engine has ref locally.
func (p *Provisioner) hasImage(ctx context.Context, ref string) (bool, error) {
	p.mu.Lock()
	seen, ok := p.imageSeen[ref]
	p.mu.Unlock()
	if ok && p.now().Sub(seen) < imageTTL {
		return true, nil
	}
	cctx, cancel := p.timeout(ctx)
	defer cancel()
	_, err := p.docker.ImageInspect(cctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	p.mu.Lock()
	p.imageSeen[ref] = p.now()
	p.mu.Unlock()
	return true, nil
}

// pull pulls ref, calling progress with each status line, and returns an
// error wrapping errPull when the pull fails (the stream's error included).
func (p *Provisioner) pull(ctx context.Context, ref string, progress func(string)) error {
	cctx, cancel := context.WithTimeout(ctx, time.Duration(p.cfg.PullTimeout))
	defer cancel()
	rc, err := p.docker.ImagePull(cctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("%w: pull %s: %w", errPull, ref, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m struct {
			Status   string `json:"status"`
			Progress string `json:"progress"`
			Error    string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.Error != "" {
			return fmt.Errorf("%w: pull %s: %s", errPull, ref, m.Error)
		}
		if progress != nil && m.Status != "" {
			progress(m.Status + " " + m.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: pull %s: %w", errPull, ref, err)
	}
	if ok, err := p.hasImage(ctx, ref); err != nil || !ok {
		return fmt.Errorf("%w: pull %s: image not present after pull", errPull, ref)
	}
	return nil
}
