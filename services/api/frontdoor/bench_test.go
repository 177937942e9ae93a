package frontdoor_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// BenchmarkFrontDoor measures what the front door adds against the same
// request sent to the stand-in ingress directly. The two are interleaved in
// every iteration, so a busy machine slows both alike; the metrics are each
// one's time per operation and their ratio. Kinds: a small HTTP request, a
// 1 MiB response body, and a 1 MiB WebSocket stream (64 messages of 16 KiB)
// on an open connection. docs/performance.md records a run.
func BenchmarkFrontDoor(b *testing.B) {
	h := start(b)
	id := h.running(b, "bench")
	host := h.host("runtime", id)
	type via struct {
		req func(path string) *http.Request
		ws  func(path string) (string, *websocket.DialOptions)
	}
	direct := via{
		req: func(path string) *http.Request {
			req, _ := http.NewRequest("GET", h.in.URL+"/runtime"+path, nil)
			return req
		},
		ws: func(path string) (string, *websocket.DialOptions) {
			return "ws://" + strings.TrimPrefix(h.in.URL, "http://") + "/runtime" + path, nil
		},
	}
	front := via{
		req: func(path string) *http.Request {
			req, _ := http.NewRequest("GET", h.env.URL+path, nil)
			req.Host = host
			req.Header.Set("Authorization", "Bearer "+alice)
			return req
		},
		ws: func(path string) (string, *websocket.DialOptions) {
			return "ws://" + strings.TrimPrefix(h.env.URL, "http://") + path,
				&websocket.DialOptions{Host: host, HTTPHeader: http.Header{"Authorization": {"Bearer " + alice}}}
		},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	get := func(b *testing.B, v via, path string, want int64) {
		resp, err := client.Do(v.req(path))
		require.NoError(b, err)
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(b, http.StatusOK, resp.StatusCode)
		if want > 0 {
			require.Equal(b, want, n)
		}
	}
	side := func(b *testing.B, bytes int64, op func(v via, i int)) {
		b.SetBytes(bytes)
		var d, f time.Duration
		n := 0
		for b.Loop() {
			t0 := time.Now()
			op(direct, 0)
			t1 := time.Now()
			op(front, 1)
			d, f = d+t1.Sub(t0), f+time.Since(t1)
			n++
		}
		b.ReportMetric(float64(d.Nanoseconds())/float64(n), "direct-ns/op")
		b.ReportMetric(float64(f.Nanoseconds())/float64(n), "frontdoor-ns/op")
		b.ReportMetric(float64(f)/float64(d), "frontdoor/direct")
	}
	b.Run("http-small", func(b *testing.B) { side(b, 0, func(v via, _ int) { get(b, v, "/x", 0) }) })
	b.Run("http-1MiB", func(b *testing.B) {
		side(b, int64(len(blob)), func(v via, _ int) { get(b, v, "/blob", int64(len(blob))) })
	})
	b.Run("websocket-1MiB", func(b *testing.B) {
		ctx := context.Background()
		var conns [2]*websocket.Conn
		for i, v := range []via{direct, front} {
			url, opts := v.ws("/wsblob")
			c, _, err := websocket.Dial(ctx, url, opts)
			require.NoError(b, err)
			defer c.CloseNow()
			conns[i] = c
		}
		side(b, int64(len(blob)), func(_ via, i int) {
			c := conns[i]
			require.NoError(b, c.Write(ctx, websocket.MessageText, []byte("go")))
			for range len(blob) / wsChunk {
				_, _, err := c.Read(ctx)
				require.NoError(b, err)
			}
		})
	})
}
