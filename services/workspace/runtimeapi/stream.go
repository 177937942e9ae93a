package runtimeapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"
)

// ndjson writes a stream of JSON objects, one a line, flushed as each is
// written. A reader that takes nothing for the stall timeout fails the
// write, so a stuck client holds at most one event in the daemon.
type ndjson struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	enc   *json.Encoder
	stall time.Duration
}

func newNDJSON(w http.ResponseWriter, stall time.Duration) *ndjson {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return &ndjson{w: w, rc: http.NewResponseController(w), enc: json.NewEncoder(w), stall: stall}
}

func (n *ndjson) send(v any) error {
	_ = n.rc.SetWriteDeadline(time.Now().Add(n.stall))
	if err := n.enc.Encode(v); err != nil {
		return err
	}
	return n.rc.Flush()
}

// outputEvent is a piece of output on the wire: Data when it is UTF-8
// text, DataB64 otherwise.
type outputEvent struct {
	Type    string `json:"type"`
	Data    string `json:"data,omitempty"`
	DataB64 string `json:"data_b64,omitempty"`
}

// textSplitter keeps a character split across two reads of one stream
// whole: the bytes of an unfinished UTF-8 sequence wait for the next read.
type textSplitter map[string][]byte

func (t textSplitter) event(stream string, data []byte) outputEvent {
	if pending := t[stream]; len(pending) > 0 {
		data = append(pending, data...)
	}
	data, t[stream] = cutPartialRune(data)
	if utf8.Valid(data) {
		return outputEvent{Type: stream, Data: string(data)}
	}
	return outputEvent{Type: stream, DataB64: base64.StdEncoding.EncodeToString(data)}
}

// cutPartialRune splits off the start of a UTF-8 sequence b ends in.
func cutPartialRune(b []byte) (head, tail []byte) {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i], append([]byte(nil), b[i:]...)
			}
			break
		}
	}
	return b, nil
}

// rest returns what is still pending of every stream, in stream order.
func (t textSplitter) rest() []outputEvent {
	var out []outputEvent
	for _, stream := range []string{"stdout", "stderr"} {
		if b := t[stream]; len(b) > 0 {
			delete(t, stream)
			out = append(out, outputEvent{Type: stream, DataB64: base64.StdEncoding.EncodeToString(b)})
		}
	}
	return out
}

func (e outputEvent) empty() bool { return e.Data == "" && e.DataB64 == "" }
