package egress

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// tlsAccessDenied is a fatal TLS alert (access_denied), sent instead of a
// ServerHello when the ClientHello is refused, so the client sees why.
var tlsAccessDenied = []byte{21, 3, 3, 0, 2, 2, 49}

var errHelloRead = errors.New("client hello read")

// readClientHello reads a TLS ClientHello from r with crypto/tls's own
// parser and returns every byte it consumed (to replay upstream unchanged)
// and the SNI server name ("" when the client sent none).
func readClientHello(r io.Reader) (raw []byte, serverName string, err error) {
	rc := &recordingConn{r: r}
	var hello *tls.ClientHelloInfo
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hello = h
		return nil, errHelloRead
	}}
	err = tls.Server(rc, cfg).Handshake()
	if hello == nil {
		return nil, "", fmt.Errorf("read TLS client hello: %w", err)
	}
	return rc.buf.Bytes(), hello.ServerName, nil
}

// recordingConn feeds crypto/tls from r, keeps a copy of what it read and
// swallows what it writes (the alert for the aborted handshake).
type recordingConn struct {
	r   io.Reader
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.buf.Write(p[:n])
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *recordingConn) Close() error                     { return nil }
func (c *recordingConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *recordingConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *recordingConn) SetDeadline(time.Time) error      { return nil }
func (c *recordingConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recordingConn) SetWriteDeadline(time.Time) error { return nil }
