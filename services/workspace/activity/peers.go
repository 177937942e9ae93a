package activity

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// LocalQuery asks a daemon for its own activity only, never its peers', so
// two daemons that name each other cannot loop.
const LocalQuery = "local=1"

// Peers reads the activity of the workspace's other daemons: on Docker the
// terminal service is a container of its own, and a person typing there is
// activity of the workspace. The zero value has no peers.
type Peers struct {
	urls   []string
	client *http.Client
}

// NewPeers returns the peers at the base URLs (e.g. http://terminal:8080).
func NewPeers(urls []string) Peers {
	urls = slices.Clone(urls)
	for i, u := range urls {
		urls[i] = strings.TrimSuffix(u, "/")
	}
	return Peers{urls: urls, client: &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2},
	}}
}

// Workspace is the activity of the whole workspace: the latest of this
// daemon's and its peers'. Unreachable lists the peers that did not answer,
// so a reader can tell a quiet workspace from a partial answer.
type Workspace struct {
	Snapshot
	Unreachable []string `json:"unreachable,omitempty"`
}

// Read asks every peer at once and merges their answers into own.
func (p Peers) Read(ctx context.Context, own Snapshot) Workspace {
	snaps := make([]Snapshot, len(p.urls))
	errs := make([]error, len(p.urls))
	var wg sync.WaitGroup
	for i, u := range p.urls {
		wg.Go(func() { snaps[i], errs[i] = p.read(ctx, u) })
	}
	wg.Wait()
	out := Workspace{Snapshot: own}
	for i, s := range snaps {
		if errs[i] != nil {
			out.Unreachable = append(out.Unreachable, p.urls[i])
			continue
		}
		out.Snapshot = Latest(out.Snapshot, s)
	}
	return out
}

func (p Peers) read(ctx context.Context, base string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/activity?"+LocalQuery, nil)
	if err != nil {
		return Snapshot{}, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return Snapshot{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Snapshot{}, fmt.Errorf("%s: %s", base, resp.Status)
	}
	var s Snapshot
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&s); err != nil {
		return Snapshot{}, fmt.Errorf("%s: %w", base, err)
	}
	return s, nil
}

// Latest merges two signals: active if either is, else the later one.
func Latest(a, b Snapshot) Snapshot {
	switch {
	case a.Active != b.Active:
		if a.Active {
			return a
		}
		return b
	case b.Last.After(a.Last):
		return b
	}
	return a
}
