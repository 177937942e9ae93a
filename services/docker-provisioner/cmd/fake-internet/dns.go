package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// record is what one name answers. A CNAME is answered together with the
// target's records (as a recursive resolver would), so clients follow it.
type record struct {
	// A and AAAA are the addresses of the name.
	A    []netip.Addr `json:"a,omitempty"`
	AAAA []netip.Addr `json:"aaaa,omitempty"`
	// CNAME makes the name an alias of another name of the zone.
	CNAME string `json:"cname,omitempty"`
	// Rotate answers successive A queries with the next set in turn, with
	// TTL 0, as a DNS rebinding attacker's server does.
	Rotate [][]netip.Addr `json:"rotate,omitempty"`
}

// zone holds the records; unknown names get NXDOMAIN.
type zone struct {
	mu      sync.Mutex
	records map[string]record
	next    map[string]int
}

func parseZone(spec string) (*zone, error) {
	var recs map[string]record
	if err := json.Unmarshal([]byte(spec), &recs); err != nil {
		return nil, err
	}
	z := &zone{records: map[string]record{}, next: map[string]int{}}
	for name, r := range recs {
		r.CNAME = canonical(r.CNAME)
		z.records[canonical(name)] = r
	}
	return z, nil
}

func canonical(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// maxChain bounds CNAME chains (and loops).
const maxChain = 8

// answer returns the answer records of an A or AAAA question.
func (z *zone) answer(name string, qtype dnsmessage.Type) (dnsmessage.RCode, []dnsmessage.Resource) {
	z.mu.Lock()
	defer z.mu.Unlock()
	var out []dnsmessage.Resource
	for hop := 0; hop < maxChain; hop++ {
		r, ok := z.records[name]
		if !ok {
			if hop == 0 {
				return dnsmessage.RCodeNameError, nil
			}
			break
		}
		owner := dnsmessage.MustNewName(name + ".")
		if r.CNAME != "" {
			out = append(out, dnsmessage.Resource{
				Header: dnsmessage.ResourceHeader{Name: owner, Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET},
				Body:   &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(r.CNAME + ".")},
			})
			name = r.CNAME
			continue
		}
		addrs := r.AAAA
		if qtype == dnsmessage.TypeA {
			addrs = r.A
			if len(r.Rotate) > 0 {
				addrs = r.Rotate[z.next[name]%len(r.Rotate)]
				z.next[name]++
			}
		}
		for _, a := range addrs {
			h := dnsmessage.ResourceHeader{Name: owner, Class: dnsmessage.ClassINET}
			switch {
			case qtype == dnsmessage.TypeA && a.Is4():
				h.Type = dnsmessage.TypeA
				out = append(out, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}})
			case qtype == dnsmessage.TypeAAAA && !a.Is4():
				h.Type = dnsmessage.TypeAAAA
				out = append(out, dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
			}
		}
		break
	}
	return dnsmessage.RCodeSuccess, out
}

// respond builds the reply to one query message; nil when it is not a query.
func (z *zone) respond(req []byte, remote string, ev *events) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil || h.Response {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := canonical(q.Name.String())
	ev.emit("dns", map[string]any{"name": name, "type": strings.TrimPrefix(q.Type.String(), "Type"), "remote": remote})
	rcode, answers := dnsmessage.RCodeSuccess, []dnsmessage.Resource(nil)
	if q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeAAAA {
		rcode, answers = z.answer(name, q.Type)
	} else if _, ok := z.records[name]; !ok {
		rcode = dnsmessage.RCodeNameError
	}
	// Authoritative and recursion available: Go's resolver treats an empty
	// answer without either as a lame referral.
	msg := dnsmessage.Message{
		Header: dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
			RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: rcode},
		Questions: []dnsmessage.Question{q},
		Answers:   answers,
	}
	out, err := msg.Pack()
	if err != nil {
		return nil
	}
	return out
}

// dnsServer serves a zone over UDP and TCP on one address.
type dnsServer struct {
	udp net.PacketConn
	tcp net.Listener
	wg  sync.WaitGroup
}

func startDNS(addr string, z *zone, ev *events, errc chan<- error) (*dnsServer, error) {
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		udp.Close()
		return nil, err
	}
	s := &dnsServer{udp: udp, tcp: tcp}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); errc <- s.serveUDP(z, ev) }()
	go func() { defer s.wg.Done(); errc <- s.serveTCP(z, ev) }()
	return s, nil
}

func (s *dnsServer) close() {
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
}

func (s *dnsServer) serveUDP(z *zone, ev *events) error {
	buf := make([]byte, 4096)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dns udp: %w", err)
		}
		if out := z.respond(buf[:n], from.String(), ev); out != nil {
			_, _ = s.udp.WriteTo(out, from)
		}
	}
}

func (s *dnsServer) serveTCP(z *zone, ev *events) error {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dns tcp: %w", err)
		}
		go serveDNSConn(c, z, ev)
	}
}

// serveDNSConn answers length-prefixed queries on one TCP connection until
// it is idle for five seconds.
func serveDNSConn(c net.Conn, z *zone, ev *events) {
	defer c.Close()
	for {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var n uint16
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		req := make([]byte, n)
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		out := z.respond(req, c.RemoteAddr().String(), ev)
		if out == nil {
			return
		}
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...)); err != nil {
			return
		}
	}
}
