package auth

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Bounds of the audit of refused (and failed) calls. Every such call is
// audited synchronously to JetStream, and most need no credential, so
// without a bound anyone could fill the audit stream and keep the API busy
// writing it. A client (an authenticated subject, else its address) gets
// RefusedAuditBurst records at once and RefusedAuditPerSecond after that;
// all clients together get RefusedAuditTotalPerSecond (burst
// RefusedAuditTotalBurst), so many addresses (an IPv6 range) do not add up
// to an unbounded stream. Beyond that a refused call is still refused, but
// neither published nor logged one by one: the drops are counted and one
// warning per RefusedAuditReportInterval says how many there were.
// Allowed calls are not bounded here: the rate limit bounds them.
const (
	RefusedAuditPerSecond      = 1
	RefusedAuditBurst          = 20
	RefusedAuditTotalPerSecond = 50
	RefusedAuditTotalBurst     = 200
	RefusedAuditReportInterval = time.Minute
)

// auditBound decides which refused calls are audited and counts the others.
type auditBound struct {
	perClient *Limiter
	total     *Limiter
	log       *slog.Logger
	interval  time.Duration

	mu      sync.Mutex
	dropped int
	since   time.Time
	timer   *time.Timer
}

func newAuditBound(log *slog.Logger) *auditBound {
	return &auditBound{
		perClient: NewLimiter(RefusedAuditPerSecond, RefusedAuditBurst),
		total:     NewLimiter(RefusedAuditTotalPerSecond, RefusedAuditTotalBurst),
		log:       log, interval: RefusedAuditReportInterval,
	}
}

// allow reports whether a refused call of client may be audited; when not,
// it is counted for the next report.
func (b *auditBound) allow(client string) bool {
	if b.perClient.Allow(client) == 0 && b.total.Allow("") == 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		b.since = time.Now()
		if b.timer == nil {
			b.timer = time.AfterFunc(b.interval, b.report)
		} else {
			b.timer.Reset(b.interval)
		}
	}
	b.dropped++
	return false
}

// report logs how many refused calls went unaudited since the first of them.
func (b *auditBound) report() {
	b.mu.Lock()
	n, since := b.dropped, b.since
	b.dropped = 0
	b.mu.Unlock()
	if n > 0 {
		b.log.Warn("audit of refused calls dropped", "dropped", n, "since", since.UTC().Format(time.RFC3339),
			"per_client_per_second", RefusedAuditPerSecond, "total_per_second", RefusedAuditTotalPerSecond)
	}
}

// auditClient names the caller whose refused calls share a budget: the
// authenticated subject, else the client's address. Calls from loopback
// (the REST gateway in this process) carry the HTTP client's address as the
// last x-forwarded-for entry, which the gateway appends itself; behind a
// proxy that is the proxy's address, so REST clients behind one proxy share
// one budget.
func auditClient(ctx context.Context, p Principal) string {
	if p.Subject != "" && p.Subject != "anonymous" {
		return "subject:" + p.Subject
	}
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return "addr:unknown"
	}
	host, _, err := net.SplitHostPort(pr.Addr.String())
	if err != nil {
		host = pr.Addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("x-forwarded-for"); len(v) > 0 {
			fwd := v[len(v)-1]
			fwd = strings.TrimSpace(fwd[strings.LastIndexByte(fwd, ',')+1:])
			if net.ParseIP(fwd) != nil {
				return "addr:" + fwd
			}
		}
	}
	return "addr:" + host
}
