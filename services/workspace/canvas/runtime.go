package canvas

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/files"
)

// callTimeout bounds a stat, a list or a health check of the runtime.
const callTimeout = 10 * time.Second

// runtimeClient reads the workspace's files through the runtime daemon's
// files API (docs/runtime.md): paths are relative to the workspace root.
type runtimeClient struct {
	base string
	http *http.Client
}

func newRuntimeClient(base string) *runtimeClient {
	return &runtimeClient{
		base: strings.TrimSuffix(base, "/"),
		http: &http.Client{Transport: &http.Transport{
			Proxy:                 nil, // the runtime is a sibling on the workspace's network, never behind the egress proxy
			ResponseHeaderTimeout: callTimeout,
			IdleConnTimeout:       time.Minute,
			MaxIdleConnsPerHost:   16,
		}},
	}
}

// get sends GET path?path=p and returns a 200 answer; any other answer
// becomes the canvas error it means.
func (c *runtimeClient) get(ctx context.Context, route, p string, extra url.Values) (*http.Response, error) {
	q := url.Values{"path": {p}}
	for k, v := range extra {
		q[k] = v
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+route+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRuntime, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var e apijson.ErrorBody
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	return nil, runtimeError(resp.StatusCode, e, p)
}

// runtimeError turns a refusal of the runtime into the canvas error it
// means for p.
func runtimeError(status int, e apijson.ErrorBody, p string) error {
	switch e.Code {
	case errcode.FileNotFound, errcode.FileNotDirectory, errcode.FileIsDirectory:
		return fmt.Errorf("%w: %s", ErrNotFound, p)
	case errcode.PathOutsideRoot:
		return fmt.Errorf("%w: %s", ErrOutside, p)
	case errcode.PathInvalid:
		return fmt.Errorf("%w: %s: %s", ErrPathInvalid, p, e.Message)
	case errcode.FileTooLarge:
		return fmt.Errorf("%w: %s: %s", ErrTooLarge, p, e.Message)
	}
	return fmt.Errorf("%w: %s answered %d %s %s", ErrRuntime, p, status, e.Code, e.Message)
}

// stat describes p without following a final symlink.
func (c *runtimeClient) stat(ctx context.Context, p string) (files.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var info files.Info
	return info, c.getJSON(ctx, "/v1/files/stat", p, nil, &info)
}

// listing is the runtime's answer to a list.
type listing struct {
	Entries   []files.Info `json:"entries"`
	Truncated bool         `json:"truncated"`
}

// list describes the entries of the directory p.
func (c *runtimeClient) list(ctx context.Context, p string) (listing, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var l listing
	return l, c.getJSON(ctx, "/v1/files/list", p, url.Values{"depth": {"1"}}, &l)
}

func (c *runtimeClient) getJSON(ctx context.Context, route, p string, extra url.Values, out any) error {
	resp, err := c.get(ctx, route, p, extra)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("%w: %s: unreadable answer: %v", ErrRuntime, route, err)
	}
	return nil
}

// open streams the content of the regular file p; the caller closes the
// body. Its ContentLength is what the runtime will send.
func (c *runtimeClient) open(ctx context.Context, p string) (*http.Response, error) {
	return c.get(ctx, "/v1/files/content", p, nil)
}

// healthy says whether the runtime answers its health check.
func (c *runtimeClient) healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}

// watchEvent is one line of the runtime's files watch.
type watchEvent struct {
	files.Change
	Message string `json:"message"`
}

// watch follows the runtime's files watch of directory p, calling emit
// for each event, until ctx ends or the stream does (an error says why).
func (c *runtimeClient) watch(ctx context.Context, p string, emit func(watchEvent)) error {
	resp, err := c.get(ctx, "/v1/files/watch", p, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		var ev watchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("watch: unreadable event: %w", err)
		}
		if ev.Type == "error" {
			return fmt.Errorf("watch: the runtime ended it: %s", ev.Message)
		}
		emit(ev)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return fmt.Errorf("watch: the runtime closed the stream")
}
