package egresstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a throw-away certificate authority for test servers.
type CA struct {
	// Pool trusts the CA; give it to clients as RootCAs.
	Pool *x509.CertPool
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA creates a CA.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ca key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "egresstest CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("ca cert: %v", err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Pool: pool, cert: cert, key: key}
}

// Leaf issues a server certificate for names.
func (ca *CA) Leaf(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("leaf key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("leaf cert: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Host is one fake internet host: an HTTPS and a plain HTTP server on the
// same loopback IP, answering "<scheme> <Host header> <path>".
type Host struct {
	// IP is the host's address.
	IP netip.Addr
	// HTTPS and HTTP are the real listening addresses.
	HTTPS, HTTP netip.AddrPort

	accepted atomic.Int64
	mu       sync.Mutex
	snis     []string
	servers  []*http.Server
	wg       sync.WaitGroup
}

// StartHost starts a host on ip with a certificate for names, stopped when
// the test ends.
func StartHost(t testing.TB, ca *CA, ip netip.Addr, names ...string) *Host {
	t.Helper()
	h := &Host{IP: ip}
	cert := ca.Leaf(t, names...)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		fmt.Fprintf(w, "%s %s %s", scheme, r.Host, r.URL.Path)
	})
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			h.mu.Lock()
			h.snis = append(h.snis, hello.ServerName)
			h.mu.Unlock()
			return nil, nil
		},
	}
	h.HTTPS = h.serve(t, handler, tlsCfg)
	h.HTTP = h.serve(t, handler, nil)
	t.Cleanup(h.Close)
	return h
}

func (h *Host) serve(t testing.TB, handler http.Handler, tlsCfg *tls.Config) netip.AddrPort {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(h.IP, 0).String())
	if err != nil {
		t.Fatalf("listen %s: %v", h.IP, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are expected
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				h.accepted.Add(1)
			}
		},
	}
	h.servers = append(h.servers, srv)
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = srv.Serve(ln)
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// Accepted counts TCP connections the host accepted on either port.
func (h *Host) Accepted() int { return int(h.accepted.Load()) }

// SNIs lists the server names of the TLS ClientHellos the host received.
func (h *Host) SNIs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.snis...)
}

// Close stops the host's servers.
func (h *Host) Close() {
	for _, s := range h.servers {
		_ = s.Close()
	}
	h.wg.Wait()
}

// Dialer stands in for the gateway's TCP dialer: it sends port 443 and 80 of
// each registered host to the host's real HTTPS and HTTP ports and records
// every address it was asked for.
type Dialer struct {
	mu     sync.Mutex
	routes map[netip.AddrPort]netip.AddrPort
	dialed []netip.AddrPort
}

// NewDialer routes the well-known ports of hosts.
func NewDialer(hosts ...*Host) *Dialer {
	d := &Dialer{routes: map[netip.AddrPort]netip.AddrPort{}}
	for _, h := range hosts {
		d.routes[netip.AddrPortFrom(h.IP, 443)] = h.HTTPS
		d.routes[netip.AddrPortFrom(h.IP, 80)] = h.HTTP
	}
	return d
}

// Dial records addr and connects to where it is routed (or to addr itself).
func (d *Dialer) Dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	to, ok := d.routes[addr]
	d.mu.Unlock()
	if !ok {
		to = addr
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", to.String())
}

// Dialed lists every address the gateway asked to dial, in order.
func (d *Dialer) Dialed() []netip.AddrPort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]netip.AddrPort(nil), d.dialed...)
}
