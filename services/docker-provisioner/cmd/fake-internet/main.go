// Command fake-internet is the "internet" of the egress end-to-end tests
// (provisioner/egress_e2e_test.go). It runs in a container on a Docker
// network the test owns, never in a workspace, and
//
//   - serves HTTP on :80 and HTTPS on :443 for any name (one certificate,
//     issued by the test's CA), answering 200 with a JSON object naming
//     itself, the Host header, the TLS server name and the peer;
//   - answers DNS on :53 (UDP and TCP) from records the test passes in,
//     including rotating answers (a rebinding attacker) and CNAMEs;
//   - prints every event (accepted connection, TLS ClientHello, HTTP
//     request, DNS query) as one JSON line on stdout, which the test reads
//     with the engine's log API to prove what did and did not reach it.
//
// Environment:
//
//	FAKENET_NAME      identity echoed in every HTTP answer (default fake-internet)
//	FAKENET_TLS_CERT  PEM certificate chain for :443
//	FAKENET_TLS_KEY   PEM private key of that certificate
//	FAKENET_DNS       JSON records, see record; empty: no DNS server
//
// Ports below 1024 need net.ipv4.ip_unprivileged_port_start=0 (the test sets
// it) when run as a non-root user.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fake-internet:", err)
		os.Exit(1)
	}
}

// events prints one JSON object per line on stdout.
type events struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *events) emit(kind string, attrs map[string]any) {
	attrs["event"] = kind
	attrs["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.enc.Encode(attrs)
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ev := &events{enc: json.NewEncoder(os.Stdout)}
	name := os.Getenv("FAKENET_NAME")
	if name == "" {
		name = "fake-internet"
	}
	cert, err := tls.X509KeyPair([]byte(os.Getenv("FAKENET_TLS_CERT")), []byte(os.Getenv("FAKENET_TLS_KEY")))
	if err != nil {
		return fmt.Errorf("FAKENET_TLS_CERT/FAKENET_TLS_KEY: %w", err)
	}
	var zone *zone
	if spec := os.Getenv("FAKENET_DNS"); spec != "" {
		if zone, err = parseZone(spec); err != nil {
			return fmt.Errorf("FAKENET_DNS: %w", err)
		}
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni := ""
		if r.TLS != nil {
			sni = r.TLS.ServerName
		}
		ev.emit("http", map[string]any{"host": r.Host, "path": r.URL.Path, "tls": r.TLS != nil, "sni": sni, "remote": r.RemoteAddr})
		if r.URL.Path == "/page" {
			servePage(w, r, name)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"server": name, "host": r.Host, "sni": sni, "remote": r.RemoteAddr})
	})
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			ev.emit("tls", map[string]any{"sni": h.ServerName, "remote": h.Conn.RemoteAddr().String()})
			return nil, nil
		},
	}
	plain, err := net.Listen("tcp", ":80")
	if err != nil {
		return err
	}
	secure, err := net.Listen("tcp", ":443")
	if err != nil {
		plain.Close()
		return err
	}
	servers := []*http.Server{
		{Handler: handler, ReadHeaderTimeout: 5 * time.Second},
		{Handler: handler, ReadHeaderTimeout: 5 * time.Second},
	}
	errc := make(chan error, 4)
	go func() { errc <- servers[0].Serve(&loggedListener{Listener: plain, ev: ev}) }()
	go func() { errc <- servers[1].Serve(tls.NewListener(&loggedListener{Listener: secure, ev: ev}, tlsCfg)) }()
	var dns *dnsServer
	if zone != nil {
		if dns, err = startDNS(":53", zone, ev, errc); err != nil {
			return err
		}
	}
	ev.emit("ready", map[string]any{"name": name, "dns": zone != nil})

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	if dns != nil {
		dns.close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// loggedListener reports every accepted TCP connection, so a test also sees
// connections that never got as far as a request (a refused TLS tunnel).
type loggedListener struct {
	net.Listener
	ev *events
}

// Accept accepts and reports one connection.
func (l *loggedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.ev.emit("accept", map[string]any{"local": c.LocalAddr().String(), "remote": c.RemoteAddr().String()})
	}
	return c, err
}

// servePage answers /page with an HTML page for browser tests: its title
// names the server and host; ?sub=HOST adds an image and a fetch() to that
// host, whose outcome the script appends to the title ("fetch ok" or
// "fetch blocked"); a click anywhere sets the title to "clicked X,Y".
func servePage(w http.ResponseWriter, r *http.Request, name string) {
	sub := r.URL.Query().Get("sub")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><html><head><title>%s</title></head><body style=\"margin:0;height:100vh\">\n", html.EscapeString(name+" "+r.Host))
	fmt.Fprintf(w, "<h1 id=\"served\">served by %s to %s</h1>\n", html.EscapeString(name), html.EscapeString(r.Host))
	if sub != "" {
		u := html.EscapeString("http://" + sub)
		fmt.Fprintf(w, "<img id=\"sub\" src=\"%s/img\">\n<script>fetch(%q).then(() => document.title += ' fetch ok', () => document.title += ' fetch blocked');</script>\n",
			u, "http://"+sub+"/fetch")
	}
	fmt.Fprint(w, "<script>document.addEventListener('mousedown', e => { document.title = 'clicked ' + e.clientX + ',' + e.clientY; });</script>\n</body></html>\n")
}
