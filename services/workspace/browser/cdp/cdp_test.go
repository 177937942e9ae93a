package cdp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// peer is a DevTools endpoint that answers Echo with its params, Fail with
// an error, and sends an event before every answer.
func peer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			var m message
			require.NoError(t, json.Unmarshal(b, &m))
			ev, _ := json.Marshal(message{Method: "Test.called", Params: json.RawMessage(`{"method":"` + m.Method + `"}`)})
			_ = c.Write(r.Context(), websocket.MessageText, ev)
			reply := message{ID: m.ID, Result: m.Params}
			if m.Method == "Fail" {
				reply = message{ID: m.ID, Error: &Error{Code: -32000, Message: "failed"}}
			}
			out, _ := json.Marshal(reply)
			_ = c.Write(r.Context(), websocket.MessageText, out)
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestConn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, peer(t), 1<<20)
	require.NoError(t, err)

	var got map[string]string
	require.NoError(t, c.Call(ctx, "Echo", map[string]string{"a": "b"}, &got))
	require.Equal(t, map[string]string{"a": "b"}, got)
	ev := <-c.Events()
	require.Equal(t, "Test.called", ev.Method)
	require.JSONEq(t, `{"method":"Echo"}`, string(ev.Params))

	err = c.Call(ctx, "Fail", nil, nil)
	var cerr *Error
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, -32000, cerr.Code)

	// Nobody reads the events, more than the buffer holds: Close still
	// ends the connection.
	for range 2 * cap(c.events) {
		require.NoError(t, c.Send(ctx, "Echo", nil))
	}
	require.NoError(t, c.Close())
	<-c.Done()
	require.ErrorIs(t, c.Call(ctx, "Echo", nil, nil), ErrClosed)
}
