package apijson

import (
	"encoding/json"
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
