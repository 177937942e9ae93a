package auth

import (
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"aileron.dev/pkg/errcode"
)

// streamCap counts the streams each caller holds open. A nil cap, or one
// of 0, admits every stream.
type streamCap struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newStreamCap(max int) *streamCap {
	if max <= 0 {
		return nil
	}
	return &streamCap{max: max, open: map[string]int{}}
}

// acquire takes one of caller's places, or answers ResourceExhausted with
// WATCH_LIMIT_REACHED; release gives it back.
func (c *streamCap) acquire(caller string) (release func(), err error) {
	if c == nil {
		return func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[caller] >= c.max {
		msg := fmt.Sprintf("%s already holds %d open watches, the most allowed; close one first", caller, c.max)
		return nil, withInfo(status.New(codes.ResourceExhausted, msg), errcode.WatchLimitReached, nil)
	}
	c.open[caller]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.open[caller]--; c.open[caller] <= 0 {
			delete(c.open, caller) // the map holds only callers with open streams
		}
	}, nil
}
