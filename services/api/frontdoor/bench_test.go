package frontdoor_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// BenchmarkFrontDoor measures what the front door adds, side by side with
// the same requests sent to the stand-in ingress directly, in one run:
// a small HTTP request, a 1 MiB response body and a 1 MiB WebSocket stream
// (64 messages of 16 KiB). docs/performance.md records a run.
func BenchmarkFrontDoor(b *testing.B) {
	h := start(b)
	id := h.running(b, "bench")
	host := h.host("runtime", id)
	direct := func(path string) (*http.Request, string) {
		req, _ := http.NewRequest("GET", h.in.URL+"/runtime"+path, nil)
		return req, "ws://" + strings.TrimPrefix(h.in.URL, "http://") + "/runtime" + path
	}
	front := func(path string) (*http.Request, string) {
		req, _ := http.NewRequest("GET", h.env.URL+path, nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+alice)
		return req, "ws://" + strings.TrimPrefix(h.env.URL, "http://") + path
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for _, via := range []struct {
		name string
		req  func(string) (*http.Request, string)
	}{{"direct", direct}, {"frontdoor", front}} {
		b.Run("http-small/"+via.name, func(b *testing.B) {
			for b.Loop() {
				req, _ := via.req("/x")
				resp, err := client.Do(req)
				require.NoError(b, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				require.Equal(b, http.StatusOK, resp.StatusCode)
			}
		})
		b.Run("http-1MiB/"+via.name, func(b *testing.B) {
			b.SetBytes(int64(len(blob)))
			for b.Loop() {
				req, _ := via.req("/blob")
				resp, err := client.Do(req)
				require.NoError(b, err)
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				require.Equal(b, int64(len(blob)), n)
			}
		})
		b.Run("websocket-1MiB/"+via.name, func(b *testing.B) {
			req, url := via.req("/wsblob")
			ctx := context.Background()
			c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Host: req.Host, HTTPHeader: req.Header})
			require.NoError(b, err)
			defer c.CloseNow()
			b.SetBytes(int64(len(blob)))
			for b.Loop() {
				require.NoError(b, c.Write(ctx, websocket.MessageText, []byte("go")))
				for range len(blob) / wsChunk {
					_, _, err := c.Read(ctx)
					require.NoError(b, err)
				}
			}
		})
	}
}
