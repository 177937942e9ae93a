package provisioner

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"aileron.dev/pkg/frontdoor"
	"aileron.dev/pkg/workspace"
)

// Health checks are HTTP probes from the provisioner through the workspace's
// published ingress port (the gateway routes /<service>/ to the service).
// That path works on every engine, needs no shell or HEALTHCHECK in FROM
// scratch images, and proves the endpoint users get works end to end. The
// probe carries the workspace's ingress secret, as the API's front door does,
// since the ingress refuses every request without it.

// ingressPort returns the host port the gateway's ingress is published on.
func (p *Provisioner) ingressPort(gw container.InspectResponse) (string, bool) {
	if gw.NetworkSettings == nil {
		return "", false
	}
	port := nat.Port(strconv.Itoa(p.cfg.Gateway.IngressPort) + "/tcp")
	for _, b := range gw.NetworkSettings.Ports[port] {
		if b.HostPort != "" {
			return b.HostPort, true
		}
	}
	return "", false
}

// probeHost is where the provisioner reaches published ports.
func (p *Provisioner) probeHost() string {
	h := p.cfg.ProbeHost
	if h == "" {
		h = p.cfg.IngressHost
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return h
}

// endpoint is the URL a service is reported at.
func (p *Provisioner) endpoint(port string, service workspace.Service) string {
	h := p.cfg.EndpointHost
	if h == "" {
		h = p.cfg.IngressHost
	}
	return "http://" + net.JoinHostPort(h, port) + route(service)
}

// probeOnce GETs a service's health path through the ingress; nil means
// healthy (2xx or 3xx). The workspace controls the answer, so the probe never
// follows a redirect (a GET from the host's network to wherever the workspace
// points, e.g. a metadata address): a 3xx is judged by its status alone.
func (p *Provisioner) probeOnce(ctx context.Context, id, port string, service workspace.Service) error {
	path := route(service) + strings.TrimLeft(p.cfg.Services.Get(service).HealthPath, "/")
	u := "http://" + net.JoinHostPort(p.probeHost(), port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set(frontdoor.Header, p.key.WorkspaceSecret(id))
	c := *p.probe
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	// Only the status code is reported: the body and the reason phrase are
	// the workspace's words and never reach a status message.
	_ = resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s: status %d %s", path, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return nil
}

// awaitHealthy probes every service until all are healthy or wait elapses,
// backing off from 20ms to 250ms. It returns the last error per unhealthy
// service. passed is called as each service's probe succeeds. firstMiss,
// when set, is called once with the errors of the first round that was not
// all healthy (to report progress early).
func (p *Provisioner) awaitHealthy(ctx context.Context, id, port string, services []workspace.Service, wait time.Duration, passed func(workspace.Service), firstMiss func(map[workspace.Service]error)) map[workspace.Service]error {
	deadline := p.now().Add(wait)
	pending := services
	errs := map[workspace.Service]error{}
	delay := 20 * time.Millisecond
	for {
		var mu sync.Mutex
		var still []workspace.Service
		_ = parallel(pending, func(s workspace.Service) error {
			err := p.probeOnce(ctx, id, port, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[s] = err
				still = append(still, s)
			} else {
				delete(errs, s)
				passed(s)
			}
			return nil
		})
		pending = still
		if len(pending) == 0 || !p.now().Before(deadline) || ctx.Err() != nil {
			return errs
		}
		if firstMiss != nil && delay > 100*time.Millisecond {
			firstMiss(errs)
			firstMiss = nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errs
		case <-t.C:
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}
