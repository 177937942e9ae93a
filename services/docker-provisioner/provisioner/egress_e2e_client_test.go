package provisioner_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/docker-provisioner/provisioner"
)

// e2eHTTP calls the stubs through the gateway's ingress and the REST API;
// every stub action is itself bounded (5 s fetch, 3 s probe).
var e2eHTTP = &http.Client{Timeout: 30 * time.Second}

// fetchResult is the stub's /fetch answer.
type fetchResult struct {
	Status        int    `json:"status"`
	Denied        string `json:"denied"`
	Body          string `json:"body"`
	Error         string `json:"error"`
	ConnectStatus int    `json:"connect_status"`
	ConnectDenied string `json:"connect_denied"`
}

// seen is what the workspace got, whichever way it was refused: the proxy's
// refusal of CONNECT (https) or the answer to the request, and which fake
// server answered with which TLS server name.
type seen struct {
	Status int
	Reason string
	Server string
	SNI    string
}

func (r fetchResult) seen() seen {
	if r.ConnectStatus != 0 && r.ConnectStatus != http.StatusOK {
		return seen{Status: r.ConnectStatus, Reason: r.ConnectDenied}
	}
	var body struct {
		Server string `json:"server"`
		SNI    string `json:"sni"`
	}
	_ = json.Unmarshal([]byte(r.Body), &body)
	return seen{Status: r.Status, Reason: r.Denied, Server: body.Server, SNI: body.SNI}
}

// fetch asks the stub behind endpoint to GET target from inside its
// container; https targets trust the test CA. extra holds /fetch options
// (direct, proxy, sni).
func (e *egressWorld) fetch(t *testing.T, endpoint, target string, extra url.Values) fetchResult {
	t.Helper()
	q := url.Values{"url": {target}}
	if strings.HasPrefix(target, "https://") {
		q.Set("ca", e.ca.certPEM)
	}
	for k, v := range extra {
		q[k] = v
	}
	var r fetchResult
	stubJSON(t, endpoint+"fetch?"+q.Encode(), &r)
	return r
}

// probeResult is the stub's /probe answer.
type probeResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// probe sends raw TCP or UDP (a DNS query for name) from inside a container.
func probe(t *testing.T, endpoint, netw, addr, name string) probeResult {
	t.Helper()
	var r probeResult
	stubJSON(t, endpoint+"probe?"+url.Values{"net": {netw}, "addr": {addr}, "name": {name}}.Encode(), &r)
	return r
}

func stubJSON(t *testing.T, u string, into any) {
	t.Helper()
	resp, err := e2eHTTP.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", u, body)
	require.NoError(t, json.Unmarshal(body, into), "%s: %s", u, body)
}

// resolve asks the container's own resolver (Docker's embedded DNS) for name.
func resolve(t *testing.T, endpoint, name string) (int, string) {
	t.Helper()
	resp, err := e2eHTTP.Get(endpoint + "resolve?name=" + url.QueryEscape(name))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// firewallSettings is the REST firewall resource's settings.
type firewallSettings struct {
	Revision         string   `json:"revision"`
	WorkspaceNetwork bool     `json:"workspace_firewall_network_access_enabled"`
	WorkspaceMode    string   `json:"workspace_firewall_domain_access_mode"`
	WorkspaceDomains []string `json:"workspace_firewall_allowed_domains"`
	BrowserNetwork   bool     `json:"browser_firewall_network_access_enabled"`
	BrowserMode      string   `json:"browser_firewall_domain_access_mode"`
	BrowserDomains   []string `json:"browser_firewall_allowed_domains"`
}

// putFirewall reads the firewall resource, changes it and PUTs it back with
// the revision read, as a client of the REST API does.
func (e *egressWorld) putFirewall(t *testing.T, change func(*firewallSettings)) {
	t.Helper()
	u := e.h.api.URL + "/api/v1/workspaces/" + e.ws.Id + "/firewall"
	resp, err := e2eHTTP.Get(u)
	require.NoError(t, err)
	var fs firewallSettings
	err = json.NewDecoder(resp.Body).Decode(&fs)
	resp.Body.Close()
	require.NoError(t, err)
	change(&fs)
	body, err := json.Marshal(fs)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err = e2eHTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "PUT %s: %s", u, out)
}

// gatewayDecision is one "egress decision" line of the gateway's JSON log.
type gatewayDecision struct {
	Msg      string `json:"msg"`
	Group    string `json:"group"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Method   string `json:"method"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	Client   string `json:"client"`
	Upstream string `json:"upstream"`
}

// gatewayDecisions reads every decision the workspace's gateway logged.
func (e *egressWorld) gatewayDecisions(t *testing.T) []gatewayDecision {
	t.Helper()
	var out []gatewayDecision
	for _, line := range containerStdout(t, provisioner.GatewayName(e.ws.Id)) {
		var d gatewayDecision
		if json.Unmarshal(line, &d) == nil && d.Msg == "egress decision" {
			out = append(out, d)
		}
	}
	return out
}
