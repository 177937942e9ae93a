package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"aileron.dev/pkg/workspace"
)

// listeningPort is one entry of the runtime's GET /v1/ports, with the URL
// of its preview through the front door when it has one.
type listeningPort struct {
	Port     uint16 `json:"port"`
	Address  string `json:"address"`
	Loopback bool   `json:"loopback"`
	Daemon   bool   `json:"daemon,omitempty"`
	// Previewable is the runtime's word on whether the port has a preview.
	Previewable bool   `json:"previewable"`
	Preview     string `json:"preview,omitempty"`
}

// ports lists the ports listening in the workspace's runtime and the
// front-door URL of each one's preview.
func (e *cliEnv) ports(ctx context.Context, args []string) int {
	fs := e.flags("workspace ports", "ID")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	var body struct {
		Ports []listeningPort `json:"ports"`
	}
	base, err := e.getServiceJSON(ctx, pos[0], workspace.ServiceRuntime, "the runtime's ports", &body, "v1", "ports")
	if err != nil {
		return e.fail(err)
	}
	for i, p := range body.Ports {
		body.Ports[i].Preview = previewURL(base, p)
	}
	if e.output == "json" {
		return e.printValue(body)
	}
	rows := make([][]string, 0, len(body.Ports))
	for _, p := range body.Ports {
		rows = append(rows, []string{strconv.Itoa(int(p.Port)), p.Address, or(p.Preview, "-")})
	}
	table(e.stdout, []string{"PORT", "ADDRESS", "PREVIEW"}, rows)
	return exitOK
}

// getServiceJSON GETs path under service svc of workspace id through the
// front door and decodes the JSON answer (at most 1 MiB) into v; what names
// the answer in an error. It returns the service's base URL.
func (e *cliEnv) getServiceJSON(ctx context.Context, id string, svc workspace.Service, what string, v any, path ...string) (*url.URL, error) {
	base, err := e.serviceURL(ctx, id, svc)
	if err != nil {
		return nil, err
	}
	resp, err := frontDoorCall(ctx, e.token, http.MethodGet, base.JoinPath(path...).String(), nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return nil, &connError{fmt.Errorf("read %s: %w", what, err)}
	}
	return base, nil
}

// previewURL is the front-door origin of port p's preview: the runtime's
// origin with the port in place of the service (runtime--<id>... becomes
// <port>--<id>...), or "" when the runtime says it has none.
func previewURL(runtime *url.URL, p listeningPort) string {
	if !p.Previewable {
		return ""
	}
	rest, ok := strings.CutPrefix(runtime.Host, string(workspace.ServiceRuntime)+"--")
	if !ok {
		return ""
	}
	u := *runtime
	u.Host = strconv.Itoa(int(p.Port)) + "--" + rest
	u.Path = "/"
	return u.String()
}
