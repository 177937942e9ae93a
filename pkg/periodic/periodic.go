// Package periodic runs the resyncs and sweeps that back up level-triggered
// event handling: work that repeats on a fixed interval until shutdown.
package periodic

import (
	"context"
	"time"
)

// Run calls f every d until ctx ends; the first call is after d.
func Run(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}
