// Command workspace-stub stands in for the runtime, terminal, browser and
// canvas images where no registry is reachable (tests and `aileron dev`). It
// is a static binary for FROM scratch images and serves, under any path
// prefix (the egress gateway routes /runtime/... unchanged or stripped):
//
//	GET  .../healthz          200 "ok", or 503 when STUB_FAIL_HEALTH is set
//	PUT  .../files/<name>     writes the body to $STUB_DATA_DIR/<name>
//	GET  .../files/<name>     reads it back
//	GET  .../info             JSON: service name, pid, start time, hostname
//	GET  .../resolve?name=N   resolves N with the container's resolver
//	GET  .../fetch?url=U      GETs U through $HTTP_PROXY (the egress gateway)
//	                          and answers with its status, denial header and
//	                          the start of the body; options:
//	                          &direct=1 bypasses the proxy, &proxy=URL uses
//	                          another one, &ca=PEM trusts that CA, &sni=NAME
//	                          sends another TLS server name, &method=M sends
//	                          another method (outbound.go)
//	GET  .../probe?net=tcp|udp&addr=H:P[&name=N]
//	                          raw traffic that ignores the proxy: a TCP
//	                          connect, or a UDP DNS query for N (outbound.go)
//
// Every request is logged (JSON on stderr, message "request") with its
// method, path and header names, so tests can tell what reached a service.
//
// Environment: PORT (default 8080), AILERON_SERVICE (name echoed by /info),
// STUB_DATA_DIR (default /workspace), STUB_FAIL_HEALTH (any non-empty value).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// maxFileSize bounds one PUT body.
const maxFileSize = 16 << 20

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "workspace-stub:", err)
		os.Exit(1)
	}
}

type stub struct {
	service    string
	dataDir    string
	failHealth bool
	started    time.Time
	log        *slog.Logger
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s := &stub{
		service:    envOr("AILERON_SERVICE", os.Getenv("STUB_SERVICE")),
		dataDir:    envOr("STUB_DATA_DIR", "/workspace"),
		failHealth: os.Getenv("STUB_FAIL_HEALTH") != "",
		started:    time.Now().UTC(),
		log:        slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	}
	addr := ":" + envOr("PORT", "8080")
	srv := &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	s.log.Info("workspace stub serving", "addr", addr, "service", s.service, "fail_health", s.failHealth)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// ServeHTTP routes on the path suffix so any ingress prefix works.
func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	s.log.Info("request", "method", r.Method, "path", p, "query", r.URL.RawQuery, "headers", names)
	switch {
	case strings.HasSuffix(p, "/healthz"):
		s.health(w)
	case strings.HasSuffix(p, "/info"):
		s.info(w)
	case strings.HasSuffix(p, "/resolve"):
		s.resolve(w, r)
	case strings.HasSuffix(p, "/fetch"):
		s.fetch(w, r)
	case strings.HasSuffix(p, "/probe"):
		s.probe(w, r)
	case strings.Contains(p, "/files/"):
		s.file(w, r, p[strings.LastIndex(p, "/files/")+len("/files/"):])
	default:
		http.NotFound(w, r)
	}
}

func (s *stub) health(w http.ResponseWriter) {
	if s.failHealth {
		http.Error(w, "unhealthy: STUB_FAIL_HEALTH is set", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

func (s *stub) info(w http.ResponseWriter) {
	host, _ := os.Hostname()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"service": s.service, "pid": os.Getpid(), "hostname": host,
		"started": s.started.Format(time.RFC3339Nano), "uid": os.Getuid(),
	})
}

func (s *stub) resolve(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, r.URL.Query().Get("name"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	_, _ = io.WriteString(w, strings.Join(addrs, "\n")+"\n")
}

func (s *stub) file(w http.ResponseWriter, r *http.Request, name string) {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		http.Error(w, "file name must be one path element", http.StatusBadRequest)
		return
	}
	path := filepath.Join(s.dataDir, name)
	switch r.Method {
	case http.MethodPut:
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFileSize))
		if err == nil {
			err = os.WriteFile(path, data, 0o644)
		}
		if err != nil {
			s.log.Error("write file failed", "path", path, "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(data)
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
