package egress

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// idleConn extends its deadlines on every read and write, so a transfer only
// fails after idle of silence, however long it runs in total.
type idleConn struct {
	net.Conn
	idle time.Duration
}

// Read reads with a fresh read deadline.
func (c *idleConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(b)
}

// Write writes with a fresh write deadline.
func (c *idleConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(b)
}

// activity is the time of the last byte in either direction of a tunnel.
type activity struct{ last atomic.Int64 }

func (a *activity) touch()               { a.last.Store(time.Now().UnixNano()) }
func (a *activity) since() time.Duration { return time.Since(time.Unix(0, a.last.Load())) }

// splice copies both ways between the client (read through clientR, which
// may hold buffered bytes) and upstream until both directions end or the
// tunnel has been silent for idle in both directions.
// countUp and countDown are told the bytes written each way.
func splice(client net.Conn, clientR io.Reader, upstream net.Conn, idle time.Duration, countUp, countDown func(int)) {
	act := &activity{}
	act.touch()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		finish(upstream, client, pump(upstream, client, clientR, idle, act, countUp))
	}()
	go func() {
		defer wg.Done()
		finish(client, upstream, pump(client, upstream, upstream, idle, act, countDown))
	}()
	wg.Wait()
}

// pump copies src (read through r) to dst; a read timeout only ends it when
// the other direction was silent too.
func pump(dst, src net.Conn, r io.Reader, idle time.Duration, act *activity, count func(int)) error {
	buf := make([]byte, 32<<10)
	for {
		_ = src.SetReadDeadline(time.Now().Add(idle))
		n, err := r.Read(buf)
		if n > 0 {
			act.touch()
			_ = dst.SetWriteDeadline(time.Now().Add(idle))
			w, werr := dst.Write(buf[:n])
			count(w)
			if werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && act.since() < idle {
				continue
			}
			return err
		}
	}
}

// finish half-closes dst after a clean EOF so the other direction can drain,
// and tears both down on any error.
func finish(dst, src net.Conn, err error) {
	if errors.Is(err, io.EOF) {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
	src.Close()
}
