// Package cdp is a minimal client of the Chrome DevTools Protocol over one
// WebSocket: numbered calls matched to their responses, and events handed
// to one consumer through a small buffer. The browser daemon's own uses
// (screenshots, the screencast, input, navigation) need no more.
package cdp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/coder/websocket"
)

// ErrClosed is returned by calls on a connection that has ended.
var ErrClosed = errors.New("cdp: connection closed")

// Event is a message Chromium sent without an id.
type Event struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// Error is an error response of a call.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("cdp: %s (%d)", e.Message, e.Code) }

type message struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Conn is one DevTools WebSocket. It is safe for concurrent use; only one
// goroutine should read Events.
type Conn struct {
	ws      *websocket.Conn
	events  chan Event
	done    chan struct{}
	quit    chan struct{} // closed by Close: stop delivering events
	once    sync.Once
	mu      sync.Mutex // guards next, pending, err
	next    int64
	pending map[int64]chan message
	err     error
}

// Dial opens the DevTools WebSocket at url (ws://127.0.0.1:port/devtools/…);
// readLimit caps one message from Chromium (a screenshot is one message).
func Dial(ctx context.Context, url string, readLimit int64) (*Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial devtools: %w", err)
	}
	ws.SetReadLimit(readLimit)
	c := &Conn{ws: ws, events: make(chan Event, 16), done: make(chan struct{}), quit: make(chan struct{}), pending: map[int64]chan message{}}
	go c.read()
	return c, nil
}

// Events delivers the connection's events and is closed when it ends. A
// consumer that stops reading stalls the connection (calls included), so
// Chromium is never read ahead of the consumer without bound; a caller
// that reads no events must enable no event domain.
func (c *Conn) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close ends the connection.
func (c *Conn) Close() error {
	c.once.Do(func() { close(c.quit) })
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

// Call sends method with params and decodes the result into result (which
// may be nil).
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	ch := make(chan message, 1)
	id, err := c.send(ctx, method, params, ch)
	if err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return m.Error
		}
		if result == nil || len(m.Result) == 0 {
			return nil
		}
		return json.Unmarshal(m.Result, result)
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Send sends method without waiting for its response.
func (c *Conn) Send(ctx context.Context, method string, params any) error {
	_, err := c.send(ctx, method, params, nil)
	return err
}

func (c *Conn) send(ctx context.Context, method string, params any, ch chan message) (int64, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return 0, fmt.Errorf("cdp: encode %s params: %w", method, err)
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	c.next++
	id := c.next
	if ch != nil {
		c.pending[id] = ch
	}
	c.mu.Unlock()
	b, _ := json.Marshal(message{ID: id, Method: method, Params: raw})
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return 0, fmt.Errorf("cdp: send %s: %w", method, err)
	}
	return id, nil
}

func (c *Conn) read() {
	defer close(c.events)
	defer close(c.done)
	ctx := context.Background()
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var m message
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.ID == 0 {
			select {
			case c.events <- Event{Method: m.Method, Params: m.Params}:
			case <-c.quit:
			}
			continue
		}
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}
