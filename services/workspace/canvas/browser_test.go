package canvas_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/internal/pagetest"
)

// TestBrowserReloads: in real headless Chromium, a canvas page reloads
// itself when the agent changes its file through the runtime, and shows
// the new content; the page's policy lets its reload script run (a
// violation would be logged as an error and fail the test).
func TestBrowserReloads(t *testing.T) {
	h := newHarness(t, "")
	h.write("canvas/index.md", "# Version one\n")
	h.write("canvas/site/index.html", "<!doctype html><html><head><title>t</title></head><body><p id=v>alpha</p></body></html>")
	h.watching()
	ctx := pagetest.Browser(t, pagetest.Options{IgnoreURLSuffix: "/favicon.ico"})

	text := func(sel string) string {
		// A reload may be under way: an evaluation it interrupts reads as
		// "", one it holds up is given up.
		ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		s, _ := chromedp.Run(ectx, chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", sel)))
		return s
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/")))
	require.Eventually(t, func() bool { return text("h1") == "Version one" }, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return h.status().Clients == 1 }, 10*time.Second, 20*time.Millisecond,
		"the page opens its live-reload stream")

	h.write("canvas/index.md", "# Version two\n")
	require.Eventually(t, func() bool { return text("h1") == "Version two" }, 15*time.Second, 50*time.Millisecond,
		"the page reloads with the new content")

	// An HTML page of the agent's reloads the same way.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/site/")))
	require.Eventually(t, func() bool { return text("#v") == "alpha" }, 10*time.Second, 50*time.Millisecond)
	// The page left behind closes its stream (the back-forward cache would
	// otherwise keep it open and hold one of the bounded places).
	require.Eventually(t, func() bool { return h.status().Clients == 1 }, 10*time.Second, 20*time.Millisecond)
	h.write("canvas/site/index.html", "<!doctype html><html><head><title>t</title></head><body><p id=v>beta</p></body></html>")
	require.Eventually(t, func() bool { return text("#v") == "beta" }, 15*time.Second, 50*time.Millisecond)
}
