package canvas_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// genOf is the generation a page was read at, from its reload script.
var genOf = regexp.MustCompile(`reload\.js\?gen=(\d+)`)

// TestLiveReload: a change of a file under the canvas folder, made
// through the runtime, reaches an open event stream as a change event; a
// page read before a change it has not been told of hears of it at once.
func TestLiveReload(t *testing.T) {
	h := newHarness(t, "")
	h.write("canvas/index.md", "# One\n")
	h.watching()
	_, body := h.get("/")
	m := genOf.FindStringSubmatch(body)
	require.NotNil(t, m, body)

	lines := h.events("?gen=" + m[1])
	h.write("canvas/index.md", "# Two\n")
	require.Positive(t, changeFor(t, lines, "index.md"))

	// A page read at the old generation is told right away.
	stale := h.events("?gen=" + m[1])
	require.NotEmpty(t, nextEvent(t, stale, "change"))

	// Changes outside the canvas folder are not the canvas's.
	gen := h.status().Generation
	h.write("elsewhere.md", "x") // not the canvas's: no event names it
	h.write("canvas/sub/page.md", "# Three\n")
	// The runtime may report a file made in a new directory by the
	// directory's create alone.
	require.Greater(t, changeFor(t, lines, "sub", "sub/page.md"), gen)

}

// TestEventStreamLimit: the live-reload streams are bounded; one more is
// refused with a code, and a closed one frees its place.
func TestEventStreamLimit(t *testing.T) {
	h := newHarness(t, "")
	for range 4 { // MaxClients of the harness
		h.events("")
	}
	h.refuse("/_canvas/events", http.StatusTooManyRequests, "WATCH_LIMIT_REACHED")
	require.Equal(t, 4, h.status().Clients)
}

// TestWatchReconnects: when the runtime's watch drops, the canvas opens it
// again, tells the pages (what changed meanwhile is unknown), and goes on
// reporting changes.
func TestWatchReconnects(t *testing.T) {
	h := newHarness(t, "")
	h.write("canvas/index.md", "# One\n")
	h.watching()
	lines := h.events("")
	gen := h.status().Generation

	h.rt.CloseClientConnections()
	// Told with no path: what changed while the watch was down is unknown.
	require.Greater(t, changeFor(t, lines, ""), gen, "the pages are told after the watch is back")
	require.True(t, h.status().Watch.OK)

	h.write("canvas/index.md", "# Two\n")
	changeFor(t, lines, "index.md")
}

// TestFolderAppears: before the agent writes anything there is no canvas
// folder; the home page is an empty page that reloads once it appears.
func TestFolderAppears(t *testing.T) {
	h := newHarness(t, "")
	resp, body := h.get("/")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "This folder is empty")
	m := genOf.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	lines := h.events("?gen=" + m[1])

	h.write("canvas/index.md", "# First\n")
	nextEvent(t, lines, "change")
	_, body = h.get("/")
	require.Contains(t, body, "<h1>First</h1>")
}
