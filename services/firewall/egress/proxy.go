package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"aileron.dev/services/firewall/policy"
)

// ErrClosed is returned by Serve after Shutdown or Close.
var ErrClosed = errors.New("egress proxy closed")

// Proxy is the egress gateway. Create it with New, serve each group's
// listener with Serve, change policies with SetPolicies.
type Proxy struct {
	opts     options
	policies atomic.Pointer[Policies]

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*trackedConn]struct{}
	cancels   []context.CancelFunc
	wg        sync.WaitGroup

	// refused counts connections refused at the cap; refusedLogged is when
	// that was last logged (unix nanoseconds).
	refused, refusedLogged atomic.Int64
}

// trackedConn is a client connection; idle ones are closed first on Shutdown.
type trackedConn struct {
	net.Conn
	group policy.Group
	idle  atomic.Bool
	// dest is the name of the tunnel or request in progress, nil between
	// requests; a policy change that refuses it closes the connection.
	dest atomic.Pointer[string]
}

// New returns a proxy enforcing ps.
func New(ps Policies, opts ...Option) *Proxy {
	p := &Proxy{
		opts:      buildOptions(opts),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*trackedConn]struct{}{},
	}
	p.policies.Store(&ps)
	return p
}

// SetPolicies atomically replaces the policies. New requests see them at
// once; tunnels and requests in progress to a name the new policies refuse
// are closed before SetPolicies returns (those still allowed go on), so a
// tightened policy is enforced on open connections too.
func (p *Proxy) SetPolicies(ps Policies) {
	p.policies.Store(&ps)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		name := c.dest.Load()
		if name == nil {
			continue
		}
		if reason := refusal(ps.For(c.group), *name); reason != "" {
			c.Close()
			p.opts.log.Info("egress connection closed by a policy change", slog.String("group", string(c.group)),
				slog.String("host", *name), slog.String("reason", reason), slog.String("client", addrString(c.RemoteAddr())))
		}
	}
}

// claim records that c now carries a tunnel or request to name and returns
// why the policies in force refuse it ("" when they allow it). A
// SetPolicies racing with the decision either finds dest set and closes c,
// or stored its policies before this check reads them.
func (p *Proxy) claim(c *trackedConn, name string) string {
	c.dest.Store(&name)
	return refusal(p.Policies().For(c.group), name)
}

// Policies returns the policies in force.
func (p *Proxy) Policies() Policies { return *p.policies.Load() }

// Serve accepts connections on ln and proxies them under group g's policy
// until ctx is done or the proxy is shut down; it closes ln before
// returning. Connections already accepted outlive ctx: use Shutdown or Close
// to end them.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener, g policy.Group) error {
	if !g.Valid() {
		ln.Close()
		return fmt.Errorf("serve egress: unknown group %q: %w", g, policy.ErrInvalid)
	}
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if !p.trackListener(ln, cancel) {
		cancel()
		ln.Close()
		return ErrClosed
	}
	defer p.untrackListener(ln)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if p.isClosed() {
				return ErrClosed
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		backoff = 0
		tc := &trackedConn{Conn: c, group: g}
		tc.idle.Store(true)
		switch p.trackConn(tc) {
		case errFull:
			p.refuseFull(c, g)
			continue
		case ErrClosed:
			c.Close()
			return ErrClosed
		}
		go func() {
			defer p.untrackConn(tc)
			p.serveConn(connCtx, tc, g)
		}()
	}
}

// Shutdown stops accepting, closes idle client connections and waits for the
// active ones (requests and tunnels) to end; when ctx is done first it closes
// them all and returns ctx's error.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.closeListeners()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if p.closeIdle() == 0 {
			p.wg.Wait()
			return nil
		}
		select {
		case <-ctx.Done():
			p.Close()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close stops accepting and closes every connection at once.
func (p *Proxy) Close() error {
	p.closeListeners()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	for _, cancel := range p.cancels {
		cancel()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *Proxy) trackListener(ln net.Listener, cancel context.CancelFunc) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.listeners[ln] = struct{}{}
	p.cancels = append(p.cancels, cancel)
	return true
}

func (p *Proxy) untrackListener(ln net.Listener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.listeners, ln)
	ln.Close()
}

func (p *Proxy) closeListeners() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for ln := range p.listeners {
		ln.Close()
	}
}

// errFull: the proxy holds its most connections.
var errFull = errors.New("egress proxy at its connection cap")

func (p *Proxy) trackConn(c *trackedConn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if len(p.conns) >= p.opts.maxConns {
		return errFull
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	return nil
}

// refuseFull answers a connection over the cap 503 and closes it, off the
// accept loop and within a second, so a flood cannot stall accepting.
// A flood logs one line a second with how many were refused.
func (p *Proxy) refuseFull(c net.Conn, g policy.Group) {
	n := p.refused.Add(1)
	if now := time.Now().UnixNano(); now-p.refusedLogged.Load() >= int64(time.Second) {
		p.refusedLogged.Store(now)
		p.opts.log.Warn("egress connections refused: at the connection cap", slog.String("group", string(g)),
			slog.Int("max_conns", p.opts.maxConns), slog.Int64("refused_total", n), slog.String("client", addrString(c.RemoteAddr())))
	}
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		writeRefusal(c, http.StatusServiceUnavailable, ReasonTooManyConns)
		c.Close()
	}()
}

func (p *Proxy) untrackConn(c *trackedConn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.wg.Done()
}

// closeIdle closes idle connections and returns how many remain open.
func (p *Proxy) closeIdle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if c.idle.Load() {
			c.Close()
		}
	}
	return len(p.conns)
}
