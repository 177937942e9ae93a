// Package egresstest holds test doubles for the egress gateway: a small DNS
// server whose answers a test controls, a fake internet of HTTP and TLS
// servers on loopback addresses, and a dialer that maps well-known ports to
// those servers while recording every address dialed.
package egresstest

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSServer answers A, AAAA and CNAME data that a test sets, over UDP and
// TCP on one loopback port. Unknown names get NXDOMAIN.
type DNSServer struct {
	// Addr is the host:port to send queries to (UDP and TCP).
	Addr string

	udp net.PacketConn
	tcp net.Listener
	wg  sync.WaitGroup

	mu      sync.Mutex
	records map[string]*record
}

type record struct {
	cname   string
	answers [][]netip.Addr
	next    int
}

// StartDNS starts a DNS server on 127.0.0.1 and stops it when the test ends.
func StartDNS(t testing.TB) *DNSServer {
	t.Helper()
	s := &DNSServer{records: map[string]*record{}}
	for range 10 {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen dns udp: %v", err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err != nil {
			udp.Close()
			continue
		}
		s.udp, s.tcp, s.Addr = udp, tcp, udp.LocalAddr().String()
		break
	}
	if s.udp == nil {
		t.Fatal("no free port for dns on udp and tcp")
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and waits for its goroutines.
func (s *DNSServer) Close() {
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
}

// Set makes name resolve to addrs (A and AAAA answers by address family).
func (s *DNSServer) Set(name string, addrs ...netip.Addr) { s.SetRotating(name, addrs) }

// SetRotating makes successive A queries for name return the next answer
// set in turn, as a rebinding attacker's server would.
func (s *DNSServer) SetRotating(name string, answers ...[]netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fqdn(name)] = &record{answers: answers}
}

// SetCNAME makes name an alias of target.
func (s *DNSServer) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fqdn(name)] = &record{cname: fqdn(target)}
}

func fqdn(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

func (s *DNSServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			_, _ = s.udp.WriteTo(resp, from)
		}
	}
}

func (s *DNSServer) serveTCP() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				resp := s.answer(msg)
				if resp == nil {
					return
				}
				out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
				if _, err := c.Write(append(out, resp...)); err != nil {
					return
				}
			}
		}()
	}
}

// answer builds the response to one query message (nil if unparseable).
func (s *DNSServer) answer(query []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	answers, found := s.resolve(q)
	if !found {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	for _, a := range answers {
		a(&b)
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

type rr func(*dnsmessage.Builder)

// resolve follows CNAMEs in the zone and returns the answer records.
func (s *DNSServer) resolve(q dnsmessage.Question) ([]rr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.ToLower(q.Name.String())
	var out []rr
	for range 8 {
		rec, ok := s.records[name]
		if !ok {
			return out, len(out) > 0
		}
		hdr := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 0}
		if rec.cname != "" {
			target := dnsmessage.MustNewName(rec.cname)
			out = append(out, func(b *dnsmessage.Builder) { _ = b.CNAMEResource(hdr, dnsmessage.CNAMEResource{CNAME: target}) })
			name = rec.cname
			continue
		}
		if len(rec.answers) == 0 {
			return out, true
		}
		set := rec.answers[rec.next%len(rec.answers)]
		if q.Type == dnsmessage.TypeA {
			rec.next++
		}
		for _, a := range set {
			switch {
			case q.Type == dnsmessage.TypeA && a.Is4():
				out = append(out, func(b *dnsmessage.Builder) { _ = b.AResource(hdr, dnsmessage.AResource{A: a.As4()}) })
			case q.Type == dnsmessage.TypeAAAA && a.Is6():
				out = append(out, func(b *dnsmessage.Builder) { _ = b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: a.As16()}) })
			}
		}
		return out, true
	}
	return out, true
}
