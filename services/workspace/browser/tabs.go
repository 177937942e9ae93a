package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/browser/cdp"
)

// Tab is a page target of Chromium.
type Tab struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// CheckURL refuses what a tab must not open: anything but http, https
// and about:blank (no file:, chrome:, javascript:, data:).
func CheckURL(s string) error {
	if s == "about:blank" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w, not %q", ErrURLInvalid, s)
	}
	return nil
}

// tabs lists Chromium's page targets, the most recently used first.
func (s *Server) tabs(ctx context.Context, addr string) ([]Tab, error) {
	status, _, body, err := s.devtoolsGet(ctx, addr, http.MethodGet, "/json/list")
	if err != nil {
		return nil, err
	}
	var all []struct {
		Tab
		Type string `json:"type"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &all) != nil {
		return nil, fmt.Errorf("%w: /json/list answered %d", ErrUnavailable, status)
	}
	pages := []Tab{}
	for _, t := range all {
		if t.Type == "page" {
			pages = append(pages, t.Tab)
		}
	}
	return pages, nil
}

// tab finds the tab with id, or the current one (the most recently used)
// when id is "".
func (s *Server) tab(ctx context.Context, addr, id string) (Tab, error) {
	tabs, err := s.tabs(ctx, addr)
	if err != nil {
		return Tab{}, err
	}
	for _, t := range tabs {
		if id == "" || t.ID == id {
			return t, nil
		}
	}
	if id == "" {
		return Tab{}, fmt.Errorf("%w: no tab is open", ErrTabNotFound)
	}
	return Tab{}, fmt.Errorf("%w: %q", ErrTabNotFound, id)
}

// page opens a DevTools connection to the tab with id ("" for the current).
func (s *Server) page(ctx context.Context, addr, id string) (*cdp.Conn, Tab, error) {
	t, err := s.tab(ctx, addr, id)
	if err != nil {
		return nil, Tab{}, err
	}
	c, err := cdp.Dial(ctx, "ws://"+addr+"/devtools/page/"+t.ID, s.limits.MaxMessageBytes)
	if err != nil {
		return nil, Tab{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return c, t, nil
}

func (s *Server) listTabs(w http.ResponseWriter, r *http.Request) {
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	tabs, err := s.tabs(r.Context(), addr)
	if err != nil {
		s.fail(w, err, "")
		return
	}
	apijson.Write(w, http.StatusOK, map[string]any{"tabs": tabs})
}

// urlRequest is the body of a new tab or a navigation.
type urlRequest struct {
	URL string `json:"url"`
}

func (s *Server) newTab(w http.ResponseWriter, r *http.Request) {
	var req urlRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.URL == "" {
		req.URL = "about:blank"
	}
	if err := CheckURL(req.URL); err != nil {
		s.fail(w, err, "url")
		return
	}
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	status, _, body, err := s.devtoolsGet(r.Context(), addr, http.MethodPut, "/json/new?"+req.URL)
	var t Tab
	if err == nil && (status != http.StatusOK || json.Unmarshal(body, &t) != nil) {
		err = fmt.Errorf("%w: /json/new answered %d", ErrUnavailable, status)
	}
	if err != nil {
		s.fail(w, err, "")
		return
	}
	s.activity.Touch("browser.tabs")
	apijson.Write(w, http.StatusCreated, t)
}

func (s *Server) closeTab(w http.ResponseWriter, r *http.Request) {
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	id := r.PathValue("id")
	if _, err := s.tab(r.Context(), addr, id); err != nil {
		s.fail(w, err, "id")
		return
	}
	status, _, _, err := s.devtoolsGet(r.Context(), addr, http.MethodGet, "/json/close/"+url.PathEscape(id))
	switch {
	case err != nil:
		s.fail(w, err, "")
	case status == http.StatusNotFound:
		s.fail(w, fmt.Errorf("%w: %q", ErrTabNotFound, id), "id")
	case status != http.StatusOK:
		s.fail(w, fmt.Errorf("%w: /json/close answered %d", ErrUnavailable, status), "")
	default:
		s.activity.Touch("browser.tabs")
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) navigateTab(w http.ResponseWriter, r *http.Request) {
	var req urlRequest
	if !s.decode(w, r, &req) {
		return
	}
	if err := CheckURL(req.URL); err != nil {
		s.fail(w, err, "url")
		return
	}
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	c, t, err := s.page(r.Context(), addr, r.PathValue("id"))
	if err != nil {
		s.fail(w, err, "id")
		return
	}
	defer c.Close()
	if err := navigate(r.Context(), c, req.URL); err != nil {
		s.fail(w, err, "url")
		return
	}
	s.activity.Touch("browser.tabs")
	t.URL = req.URL
	apijson.Write(w, http.StatusOK, t)
}

// navigate loads url in the page; a load Chromium refuses (an unknown
// host, say) is the page's own business, as in a browser's address bar.
func navigate(ctx context.Context, c *cdp.Conn, url string) error {
	ctx, cancel := context.WithTimeout(ctx, devtoolsTimeout)
	defer cancel()
	if err := c.Call(ctx, "Page.navigate", map[string]string{"url": url}, nil); err != nil {
		return fmt.Errorf("%w: Page.navigate: %v", ErrUnavailable, err)
	}
	return nil
}

func (s *Server) screenshot(w http.ResponseWriter, r *http.Request) {
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	c, _, err := s.page(r.Context(), addr, r.URL.Query().Get("target"))
	if err != nil {
		s.fail(w, err, "target")
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(r.Context(), devtoolsTimeout)
	defer cancel()
	var shot struct {
		Data string `json:"data"`
	}
	if err := c.Call(ctx, "Page.captureScreenshot", map[string]string{"format": "png"}, &shot); err != nil {
		s.fail(w, fmt.Errorf("%w: Page.captureScreenshot: %v", ErrUnavailable, err), "")
		return
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		s.fail(w, fmt.Errorf("screenshot: %w", err), "")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
}

// decode reads a JSON body of at most MaxBodyBytes into v, or answers 400,
// 413 or 415 and false. A body must say it is JSON: a page Chromium shows
// can reach the daemon on loopback, past the front door, and a form or a
// text/plain fetch it sends is not JSON.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		apijson.WriteError(w, http.StatusUnsupportedMediaType, errcode.RequestContentTypeInvalid,
			"the body must be application/json", "Content-Type")
		return false
	}
	if e := apijson.Decode(w, r, s.limits.MaxBodyBytes, v); e != nil {
		apijson.WriteError(w, e.Status, e.Code, e.Message, "")
		return false
	}
	return true
}
