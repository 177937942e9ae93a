package apijson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/errcode"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		body   string
		status int
		code   errcode.Code
	}{
		{`{"url": "x"}`, 0, ""},
		{`{"url": "x", "extra": 1}`, http.StatusBadRequest, errcode.RequestInvalid},
		{`{"url": "x"} {}`, http.StatusBadRequest, errcode.RequestInvalid},
		{`not json`, http.StatusBadRequest, errcode.RequestInvalid},
		{`{"url": "` + strings.Repeat("x", 100) + `"}`, http.StatusRequestEntityTooLarge, errcode.RequestTooLarge},
	} {
		var v struct {
			URL string `json:"url"`
		}
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		e := Decode(httptest.NewRecorder(), r, 64, &v)
		if tc.status == 0 {
			require.Nil(t, e, tc.body)
			require.Equal(t, "x", v.URL)
			continue
		}
		require.NotNil(t, e, tc.body)
		require.Equal(t, tc.status, e.Status, tc.body)
		require.Equal(t, tc.code, e.Code, tc.body)
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, http.StatusNotFound, errcode.BrowserTabNotFound, "no such tab", "id")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var b ErrorBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b))
	require.Equal(t, ErrorBody{Code: errcode.BrowserTabNotFound, Message: "no such tab", Field: "id"}, b)
}

// TestErrorsWrite: the first entry an error matches answers it, with the
// error's message and the entry's field, else the caller's; an error no
// entry matches is left to the caller.
func TestErrorsWrite(t *testing.T) {
	errGone := errors.New("gone")
	errBad := errors.New("bad")
	answers := Errors{
		{Err: errGone, Status: http.StatusNotFound, Code: errcode.FileNotFound, Field: "id"},
		{Err: errBad, Status: http.StatusBadRequest, Code: errcode.PathInvalid},
		{Err: errBad, Status: http.StatusConflict, Code: errcode.FileExists},
	}
	answer := func(err error, field string) (int, ErrorBody, bool) {
		rec := httptest.NewRecorder()
		ok := answers.Write(rec, err, field)
		var body ErrorBody
		if ok {
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		}
		return rec.Code, body, ok
	}
	status, body, ok := answer(fmt.Errorf("tab 7: %w", errGone), "path")
	require.True(t, ok)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, ErrorBody{Code: errcode.FileNotFound, Message: "tab 7: gone", Field: "id"}, body)

	status, body, ok = answer(errBad, "path")
	require.True(t, ok)
	require.Equal(t, http.StatusBadRequest, status, "the first match wins")
	require.Equal(t, "path", body.Field, "the caller's field")

	_, _, ok = answer(errors.New("other"), "path")
	require.False(t, ok)

	rec := httptest.NewRecorder()
	WriteInternal(rec)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.JSONEq(t, `{"code":"INTERNAL","message":"internal error"}`, rec.Body.String())
}
