package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket per caller for mutating calls.
type Limiter struct {
	mu      sync.Mutex
	rate    rate.Limit
	burst   int
	callers map[string]*entry
	now     func() time.Time
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewLimiter allows perSecond commands per caller with bursts of burst.
func NewLimiter(perSecond float64, burst int) *Limiter {
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, callers: map[string]*entry{}, now: time.Now}
}

// Allow spends a token of caller; it returns 0 when allowed, else how long to
// wait before retrying.
func (l *Limiter) Allow(caller string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e, ok := l.callers[caller]
	if !ok {
		if len(l.callers) > 10000 {
			l.evict(now)
		}
		e = &entry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.callers[caller] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// evict forgets callers idle for a minute, bounding memory.
func (l *Limiter) evict(now time.Time) {
	for k, e := range l.callers {
		if now.Sub(e.seen) > time.Minute {
			delete(l.callers, k)
		}
	}
}
