package egress

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

// tlsAccessDenied is a fatal TLS alert (access_denied), sent instead of a
// ServerHello when the ClientHello is refused, so the client sees why.
var tlsAccessDenied = []byte{21, 3, 3, 0, 2, 2, 49}

var errHelloRead = errors.New("client hello read")

// Extensions whose ClientHello carries a second, encrypted name: the SNI
// the gateway checks would then be only the outer, public one.
const (
	extensionECH  uint16 = 0xfe0d // encrypted_client_hello (RFC 9849)
	extensionESNI uint16 = 0xffce // encrypted_server_name (draft, retired)
)

// encryptsName reports whether a ClientHello with these extensions hides
// its real server name.
func encryptsName(extensions []uint16) bool {
	return slices.Contains(extensions, extensionECH) || slices.Contains(extensions, extensionESNI)
}

// readClientHello reads a TLS ClientHello from r with crypto/tls's own
// parser and returns every byte it consumed (to replay upstream unchanged),
// the SNI server name ("" when the client sent none) and whether the hello
// encrypts the real name (ECH).
func readClientHello(r io.Reader) (raw []byte, serverName string, encrypted bool, err error) {
	rc := &recordingConn{r: r}
	var hello *tls.ClientHelloInfo
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hello = h
		return nil, errHelloRead
	}}
	err = tls.Server(rc, cfg).Handshake()
	if hello == nil {
		return nil, "", false, fmt.Errorf("read TLS client hello: %w", err)
	}
	return rc.buf.Bytes(), hello.ServerName, encryptsName(hello.Extensions), nil
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
