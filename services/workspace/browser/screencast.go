package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/browser/cdp"
)

// maxInputBytes caps one message of the preview page (an input event).
const maxInputBytes = 64 << 10

// FrameMeta is the screencast's text message before each JPEG frame.
type FrameMeta struct {
	Type     string          `json:"type"` // "frame"
	Metadata json.RawMessage `json:"metadata"`
}

// Input is a message of the preview page: mouse or key input, or a
// navigation. Mouse x and y are fractions (0-1) of the frame's width and
// height; the daemon scales them to the page's viewport.
type Input struct {
	Type string `json:"type"` // mouse, key, navigate, back, forward, reload
	// Event is the CDP event type: mousePressed, mouseReleased,
	// mouseMoved, mouseWheel; keyDown, keyUp, char.
	Event      string  `json:"event,omitempty"`
	X          float64 `json:"x,omitempty"`
	Y          float64 `json:"y,omitempty"`
	Button     string  `json:"button,omitempty"`
	Buttons    int     `json:"buttons,omitempty"`
	ClickCount int     `json:"clickCount,omitempty"`
	DeltaX     float64 `json:"deltaX,omitempty"`
	DeltaY     float64 `json:"deltaY,omitempty"`
	Modifiers  int     `json:"modifiers,omitempty"`
	Key        string  `json:"key,omitempty"`
	Code       string  `json:"code,omitempty"`
	Text       string  `json:"text,omitempty"`
	KeyCode    int     `json:"keyCode,omitempty"`
	URL        string  `json:"url,omitempty"`
}

// viewport is the page's size in CSS pixels, from the latest frame.
type viewport struct {
	mu   sync.Mutex
	w, h float64
}

func (v *viewport) set(w, h float64) {
	if w > 0 && h > 0 {
		v.mu.Lock()
		v.w, v.h = w, h
		v.mu.Unlock()
	}
}

func (v *viewport) scale(x, y float64) (float64, float64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	clamp := func(f float64) float64 { return math.Max(0, math.Min(1, f)) }
	return clamp(x) * v.w, clamp(y) * v.h
}

// screencast streams a tab (?target=, else the current one) to the
// preview page as JPEG frames, each binary message preceded by a FrameMeta
// text message, and passes the page's input to the tab.
func (s *Server) screencast(w http.ResponseWriter, r *http.Request) {
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	release, ok := s.acquire(w)
	if !ok {
		return
	}
	defer release()
	page, t, err := s.page(r.Context(), addr, r.URL.Query().Get("target"))
	if err != nil {
		s.fail(w, err, "target")
		return
	}
	defer page.Close()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(maxInputBytes)
	ctx, stop := context.WithCancel(r.Context())
	defer stop()

	vp := &viewport{}
	if err := startScreencast(ctx, page, vp); err != nil {
		s.log.Warn("screencast failed", slog.String("tab", t.ID), slog.Any("error", err))
		_ = c.Close(websocket.StatusInternalError, "screencast failed")
		return
	}
	s.send(ctx, c, map[string]any{"type": "tab", "id": t.ID, "url": t.URL, "title": t.Title})

	done := make(chan struct{})
	go func() {
		defer close(done)
		defer stop()
		s.input(ctx, c, page, vp)
	}()
	s.frames(ctx, c, page, vp)
	stop()
	_ = c.Close(websocket.StatusNormalClosure, "screencast ended")
	<-done
}

// startScreencast brings the tab to the front (a hidden page neither
// paints nor takes input), reads its viewport and starts the JPEG frames.
func startScreencast(ctx context.Context, page *cdp.Conn, vp *viewport) error {
	var metrics struct {
		CSSLayoutViewport struct {
			ClientWidth  float64 `json:"clientWidth"`
			ClientHeight float64 `json:"clientHeight"`
		} `json:"cssLayoutViewport"`
	}
	for _, step := range []struct {
		method string
		params any
		result any
	}{
		{"Page.bringToFront", nil, nil},
		{"Page.enable", nil, nil},
		{"Page.getLayoutMetrics", nil, &metrics},
		{"Page.startScreencast", map[string]any{"format": "jpeg", "quality": 70, "everyNthFrame": 1}, nil},
	} {
		if err := page.Call(ctx, step.method, step.params, step.result); err != nil {
			return fmt.Errorf("%s: %w", step.method, err)
		}
		if step.result != nil {
			vp.set(metrics.CSSLayoutViewport.ClientWidth, metrics.CSSLayoutViewport.ClientHeight)
		}
	}
	return nil
}

// frames forwards the tab's frames and navigations to the page until
// either side ends. A frame is acknowledged only once written, so a slow
// viewer slows Chromium's frames down instead of queuing them.
func (s *Server) frames(ctx context.Context, c *websocket.Conn, page *cdp.Conn, vp *viewport) {
	for {
		var ev cdp.Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-page.Events():
			if !ok {
				return
			}
		}
		switch ev.Method {
		case "Page.screencastFrame":
			var f struct {
				Data      string          `json:"data"`
				Metadata  json.RawMessage `json:"metadata"`
				SessionID int             `json:"sessionId"`
			}
			if json.Unmarshal(ev.Params, &f) != nil {
				continue
			}
			var m struct {
				DeviceWidth  float64 `json:"deviceWidth"`
				DeviceHeight float64 `json:"deviceHeight"`
			}
			_ = json.Unmarshal(f.Metadata, &m)
			vp.set(m.DeviceWidth, m.DeviceHeight)
			jpeg, err := base64.StdEncoding.DecodeString(f.Data)
			if err != nil {
				continue
			}
			if !s.send(ctx, c, FrameMeta{Type: "frame", Metadata: f.Metadata}) || s.write(ctx, c, websocket.MessageBinary, jpeg) != nil {
				return
			}
			if page.Send(ctx, "Page.screencastFrameAck", map[string]int{"sessionId": f.SessionID}) != nil {
				return
			}
		case "Page.frameNavigated":
			var n struct {
				Frame struct {
					ParentID string `json:"parentId"`
					URL      string `json:"url"`
				} `json:"frame"`
			}
			if json.Unmarshal(ev.Params, &n) == nil && n.Frame.ParentID == "" {
				s.send(ctx, c, map[string]string{"type": "navigated", "url": n.Frame.URL})
			}
		case "Inspector.detached", "Inspector.targetCrashed":
			return
		}
	}
}

// input reads the page's messages and dispatches them to the tab until
// the page goes away. A bad message is answered, not fatal.
func (s *Server) input(ctx context.Context, c *websocket.Conn, page *cdp.Conn, vp *viewport) {
	p := newPacer(s.limits.MessagesPerSecond)
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if p.wait(ctx) != nil {
			return
		}
		var in Input
		if typ != websocket.MessageText || json.Unmarshal(b, &in) != nil {
			s.sendError(ctx, c, errcode.RequestInvalid, "want a JSON input message", "")
			continue
		}
		s.activity.Touch("browser.input")
		if err := dispatch(ctx, page, vp, in); err != nil {
			if errors.Is(err, ErrURLInvalid) {
				s.sendError(ctx, c, errcode.BrowserURLInvalid, err.Error(), "url")
			} else {
				s.sendError(ctx, c, errcode.RequestInvalid, err.Error(), "type")
			}
			if errors.Is(err, cdp.ErrClosed) {
				return
			}
		}
	}
}

// dispatch turns one input message into its CDP command.
func dispatch(ctx context.Context, page *cdp.Conn, vp *viewport, in Input) error {
	switch in.Type {
	case "mouse":
		switch in.Event {
		case "mousePressed", "mouseReleased", "mouseMoved", "mouseWheel":
		default:
			return fmt.Errorf("mouse event %q: want mousePressed, mouseReleased, mouseMoved or mouseWheel", in.Event)
		}
		x, y := vp.scale(in.X, in.Y)
		button := in.Button
		if button == "" {
			button = "none"
		}
		return page.Call(ctx, "Input.dispatchMouseEvent", map[string]any{
			"type": in.Event, "x": x, "y": y, "button": button, "buttons": in.Buttons,
			"clickCount": in.ClickCount, "deltaX": in.DeltaX, "deltaY": in.DeltaY, "modifiers": in.Modifiers,
		}, nil)
	case "key":
		typ := in.Event
		switch {
		case typ == "keyDown" && in.Text == "":
			typ = "rawKeyDown" // no character: keyDown would insert one
		case typ == "keyDown", typ == "keyUp", typ == "char":
		default:
			return fmt.Errorf("key event %q: want keyDown, keyUp or char", in.Event)
		}
		return page.Call(ctx, "Input.dispatchKeyEvent", map[string]any{
			"type": typ, "key": in.Key, "code": in.Code, "text": in.Text, "unmodifiedText": in.Text,
			"windowsVirtualKeyCode": in.KeyCode, "nativeVirtualKeyCode": in.KeyCode, "modifiers": in.Modifiers,
		}, nil)
	case "navigate":
		if err := CheckURL(in.URL); err != nil {
			return err
		}
		return navigate(ctx, page, in.URL)
	case "back", "forward":
		return page.Call(ctx, "Runtime.evaluate", map[string]any{"expression": "history." + in.Type + "()"}, nil)
	case "reload":
		return page.Call(ctx, "Page.reload", map[string]any{}, nil)
	default:
		return fmt.Errorf("input type %q: want mouse, key, navigate, back, forward or reload", in.Type)
	}
}

// send writes v as a JSON text message and reports whether it went.
func (s *Server) send(ctx context.Context, c *websocket.Conn, v any) bool {
	b, err := json.Marshal(v)
	return err == nil && s.write(ctx, c, websocket.MessageText, b) == nil
}

func (s *Server) sendError(ctx context.Context, c *websocket.Conn, code errcode.Code, msg, field string) {
	s.send(ctx, c, map[string]string{"type": "error", "code": string(code), "message": msg, "field": field})
}
