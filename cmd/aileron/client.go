package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
)

// defaultAPI is where `aileron dev` serves REST.
const defaultAPI = "http://localhost:3001"

// callTimeout bounds every unary call; watches run until cancelled.
const callTimeout = 30 * time.Second

// apiError is an error the API answered, with its stable code.
type apiError struct {
	Code      errcode.Code `json:"code"`
	Message   string       `json:"message"`
	Field     string       `json:"field"`
	Status    int          `json:"status"`
	RequestID string       `json:"request_id"`
}

func (e *apiError) Error() string { return string(e.Code) + ": " + e.Message }

// connError means the API could not be reached or answered something that is
// not the API.
type connError struct{ err error }

func (e *connError) Error() string { return "UNAVAILABLE: " + e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

var (
	marshalJSON   = protojson.MarshalOptions{UseProtoNames: true}
	unmarshalJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
	// printJSONOpts match the API's own answers: every field, even a zero one.
	printJSONOpts = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
)

// client calls the workspace REST API with the generated types.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newClient(api, token string) (*client, error) {
	u, err := url.Parse(strings.TrimRight(api, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--api %q must be an http(s) URL like %s", api, defaultAPI)
	}
	return &client{base: u, token: token, http: &http.Client{}}, nil
}

func (c *client) request(ctx context.Context, method, path string, query url.Values, in proto.Message) (*http.Response, error) {
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		data, err := marshalJSON.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, &connError{err}
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is said below
		}
		return nil, &connError{fmt.Errorf("cannot reach the API at %s: %w", c.base, err)}
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, decodeError(resp.StatusCode, data)
	}
	return resp, nil
}

// decodeError turns an error response into an apiError; a body that is not
// the API's error shape still yields a code naming the HTTP status.
func decodeError(status int, data []byte) error {
	e := &apiError{}
	if json.Unmarshal(data, e) == nil && e.Code != "" {
		if e.Status == 0 {
			e.Status = status
		}
		return e
	}
	// A stream that fails before its first message answers a google.rpc.Status.
	var l streamLine
	if json.Unmarshal(data, &l) == nil && l.Error != nil {
		e := l.Error.apiError()
		e.Status = status
		return e
	}
	msg := strings.TrimSpace(string(data))
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &apiError{Code: errcode.PrefixHTTP.With(strconv.Itoa(status)), Message: msg, Status: status}
}

// call sends in (nil for no body) and decodes the answer into out.
func (c *client) call(ctx context.Context, method, path string, query url.Values, in, out proto.Message) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.request(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return &connError{fmt.Errorf("read answer: %w", err)}
	}
	if err := unmarshalJSON.Unmarshal(data, out); err != nil {
		return &connError{fmt.Errorf("the answer of %s %s is not the API's JSON: %w", method, path, err)}
	}
	return nil
}

func wsPath(id string, rest ...string) string {
	return "/api/v1/workspaces/" + url.PathEscape(id) + strings.Join(rest, "")
}

// list reads every page of workspaces matching the filters.
func (c *client) list(ctx context.Context, state, provisioner, search string) ([]*workspacev1.Workspace, error) {
	var all []*workspacev1.Workspace
	token := ""
	for {
		q := url.Values{"page_size": {"100"}}
		for k, v := range map[string]string{"state": state, "provisioner": provisioner, "search": search, "page_token": token} {
			if v != "" {
				q.Set(k, v)
			}
		}
		page := &workspacev1.ListWorkspacesResponse{}
		if err := c.call(ctx, http.MethodGet, "/api/v1/workspaces", q, nil, page); err != nil {
			return nil, err
		}
		all = append(all, page.Workspaces...)
		if token = page.NextPageToken; token == "" {
			return all, nil
		}
	}
}

func (c *client) get(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	w := &workspacev1.Workspace{}
	return w, c.call(ctx, http.MethodGet, wsPath(id), nil, nil, w)
}

func (c *client) create(ctx context.Context, req *workspacev1.CreateWorkspaceRequest) (*workspacev1.Workspace, error) {
	w := &workspacev1.Workspace{}
	return w, c.call(ctx, http.MethodPost, "/api/v1/workspaces", nil, req, w)
}

// command posts a lifecycle command: stop, start or restart.
func (c *client) command(ctx context.Context, id, verb string) (*workspacev1.Workspace, error) {
	w := &workspacev1.Workspace{}
	return w, c.call(ctx, http.MethodPost, wsPath(id, "/", verb), nil, &workspacev1.StopWorkspaceRequest{}, w)
}

func (c *client) restartService(ctx context.Context, id, service string) (*workspacev1.Workspace, error) {
	w := &workspacev1.Workspace{}
	return w, c.call(ctx, http.MethodPost, wsPath(id, "/services/", url.PathEscape(service), "/restart"), nil,
		&workspacev1.RestartServiceRequest{}, w)
}

// open asks for a one-time link to a service.
func (c *client) open(ctx context.Context, id, service string, port uint32) (*workspacev1.OpenWorkspaceServiceResponse, error) {
	r := &workspacev1.OpenWorkspaceServiceResponse{}
	return r, c.call(ctx, http.MethodPost, wsPath(id, "/services/", url.PathEscape(service), ":open"), nil,
		&workspacev1.OpenWorkspaceServiceRequest{Port: port}, r)
}

func (c *client) delete(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	w := &workspacev1.Workspace{}
	return w, c.call(ctx, http.MethodDelete, wsPath(id), nil, nil, w)
}

func (c *client) timeline(ctx context.Context, id string) (*workspacev1.GetWorkspaceTimelineResponse, error) {
	tl := &workspacev1.GetWorkspaceTimelineResponse{}
	return tl, c.call(ctx, http.MethodGet, wsPath(id, "/timeline"), nil, nil, tl)
}

func (c *client) firewall(ctx context.Context, id string) (*workspacev1.Firewall, error) {
	fw := &workspacev1.Firewall{}
	return fw, c.call(ctx, http.MethodGet, wsPath(id, "/firewall"), nil, nil, fw)
}

func (c *client) updateFirewall(ctx context.Context, req *workspacev1.UpdateFirewallRequest) (*workspacev1.Firewall, error) {
	fw := &workspacev1.Firewall{}
	body := proto.Clone(req).(*workspacev1.UpdateFirewallRequest)
	body.Id = "" // in the path
	return fw, c.call(ctx, http.MethodPut, wsPath(req.Id, "/firewall"), nil, body, fw)
}

// streamLine is one line of a grpc-gateway server stream.
type streamLine struct {
	Result json.RawMessage `json:"result"`
	Error  *rpcStatus      `json:"error"`
	// A stream that fails answers the API's usual error body as a line.
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
}

// rpcStatus is a google.rpc.Status in JSON; an ErrorInfo detail carries the
// stable code as its reason.
type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Reason   string            `json:"reason"`
		Metadata map[string]string `json:"metadata"`
	} `json:"details"`
}

func (s *rpcStatus) apiError() *apiError {
	e := &apiError{Code: errcode.PrefixRPC.With(strconv.Itoa(s.Code)), Message: s.Message}
	for _, d := range s.Details {
		if d.Reason != "" {
			e.Code, e.Field = errcode.Code(d.Reason), d.Metadata["field"]
		}
	}
	return e
}

// watch streams changes (of one workspace when id is set) to fn until ctx
// ends, fn returns false, or the stream fails.
func (c *client) watch(ctx context.Context, id string, fn func(*workspacev1.WatchWorkspacesResponse) bool) error {
	q := url.Values{}
	if id != "" {
		q.Set("id", id)
	}
	resp, err := c.request(ctx, http.MethodGet, "/api/v1/workspaces:watch", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l streamLine
		if err := json.Unmarshal(line, &l); err != nil {
			return &connError{fmt.Errorf("watch: bad line: %w", err)}
		}
		if l.Error != nil {
			return l.Error.apiError()
		}
		if l.Code != "" {
			return &apiError{Code: l.Code, Message: l.Message}
		}
		ev := &workspacev1.WatchWorkspacesResponse{}
		if err := unmarshalJSON.Unmarshal(l.Result, ev); err != nil {
			return &connError{fmt.Errorf("watch: bad event: %w", err)}
		}
		if ev.Type == "synced" {
			continue // the end of the initial snapshot
		}
		if !fn(ev) {
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return &connError{fmt.Errorf("watch: %w", err)}
	}
	return &connError{errors.New("watch: the API closed the stream")}
}
