package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// badBodyField names the JSON member holding the first byte of data that is
// not UTF-8, in the API's field syntax (name, list[1], outer.inner); "body"
// when that byte is not inside a string value.
func badBodyField(data []byte) string {
	off := int64(firstInvalid(data))
	type level struct {
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []*level
	path := func() string {
		var b []byte
		for _, l := range stack {
			if l.array {
				b = append(append(append(b, '['), strconv.Itoa(l.index)...), ']')
				continue
			}
			if len(b) > 0 {
				b = append(b, '.')
			}
			b = append(b, l.key...)
		}
		return string(b)
	}
	next := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.array {
			top.index++
		} else {
			top.wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "body"
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && !top.array && top.wantKey
		if dec.InputOffset() > off {
			if _, ok := tok.(string); !ok || isKey {
				return "body"
			}
			if p := path(); p != "" {
				return p
			}
			return "body"
		}
		if isKey {
			top.key, top.wantKey = tok.(string), false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{wantKey: true})
		case json.Delim('['):
			stack = append(stack, &level{array: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			next()
		default:
			next()
		}
	}
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
