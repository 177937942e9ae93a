package terminal_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/terminal"
)

// The shell echoes what is typed; quotes split the marker so only the
// command's output holds it whole.

func TestEcho(t *testing.T) {
	h := newHarness(t)
	h.create("one")
	c := h.attach("one")
	c.send("echo hel''lo\n")
	c.waitFor("hello\r\n")
}

func TestResize(t *testing.T) {
	h := newHarness(t)
	h.create("one")
	c := h.attach("one")
	c.control(`{"type":"resize","cols":100,"rows":40}`)
	require.Eventually(t, func() bool { i := h.info("one"); return i.Cols == 100 && i.Rows == 40 }, 5*time.Second, 20*time.Millisecond)
	c.send("stty size\n")
	c.waitFor("40 100\r\n")
}

func TestReattachKeepsShellAndReplays(t *testing.T) {
	h := newHarness(t)
	pid := h.create("one").Pid
	c := h.attach("one")
	c.send("export MARK=abc123; echo fir''st\n")
	c.waitFor("first\r\n")
	c.close()
	h.waitDetached("one")
	require.True(t, h.info("one").Running, "the shell survives its client")

	again := h.attach("one")
	again.waitFor("first\r\n") // the replay
	again.send("echo v=$MARK\n")
	again.waitFor("v=abc123")
	require.Equal(t, pid, h.info("one").Pid)
}

func TestTabsAreIndependent(t *testing.T) {
	h := newHarness(t)
	h.create("a")
	h.create("b")
	a, b := h.attach("a"), h.attach("b")
	a.send("X=alpha; cd /\n")
	b.send("X=beta\n")
	a.send("echo x=$X in=$(pwd)\n")
	b.send("echo x=$X in=$(pwd)\n")
	a.waitFor("x=alpha in=/\r\n")
	b.waitFor("x=beta in=/tmp/")
	require.NotContains(t, b.output(), "alpha")
	require.NotContains(t, a.output(), "beta")
	var list struct{ Terminals []terminal.Info }
	require.Equal(t, http.StatusOK, h.do("GET", "/v1/terminals", "", &list))
	require.Len(t, list.Terminals, 2)
	require.NotEqual(t, list.Terminals[0].Pid, list.Terminals[1].Pid)
}

// TestKillEndsTheSession: a background job in a group of its own goes too.
func TestKillEndsTheSession(t *testing.T) {
	h := newHarness(t)
	pid := h.create("one").Pid
	c := h.attach("one")
	c.send("sleep 1000 & echo b''g=$!=\n")
	var m []string
	require.Eventually(t, func() bool {
		m = regexp.MustCompile(`bg=(\d+)=`).FindStringSubmatch(c.output())
		return m != nil
	}, 10*time.Second, 20*time.Millisecond)
	bg, err := strconv.Atoi(m[1])
	require.NoError(t, err)

	require.Equal(t, http.StatusNoContent, h.do("DELETE", "/v1/terminals/one", "", nil))
	require.Equal(t, websocket.StatusNormalClosure, c.closeStatus())
	c.mu.Lock()
	require.Contains(t, c.texts, `{"type":"exit","exit_code":137,"signal":"KILL"}`)
	c.mu.Unlock()
	for _, p := range []int{pid, bg} {
		require.Eventually(t, func() bool { return syscall.Kill(p, 0) == syscall.ESRCH }, 5*time.Second, 20*time.Millisecond, "pid %d lives", p)
	}
	require.Equal(t, http.StatusNotFound, h.do("DELETE", "/v1/terminals/one", "", nil))
}

func TestShellExitEndsTheConnection(t *testing.T) {
	h := newHarness(t)
	h.create("one")
	c := h.attach("one")
	c.send("exit 3\n")
	require.Equal(t, websocket.StatusNormalClosure, c.closeStatus())
	c.mu.Lock()
	require.Contains(t, c.texts, `{"type":"exit","exit_code":3}`)
	c.mu.Unlock()
	require.False(t, h.info("one").Running)
}

func TestOrigin(t *testing.T) {
	h := newHarness(t, func(o *terminal.Options) { o.OriginPatterns = []string{"*.console.example"} })
	h.create("one")
	tests := []struct {
		origin string
		want   int
	}{
		{"", http.StatusSwitchingProtocols},
		{h.url, http.StatusSwitchingProtocols},
		{"https://terminal--abc.console.example", http.StatusSwitchingProtocols},
		{"https://evil.example", http.StatusForbidden},
		{"null", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			header := http.Header{}
			if tt.origin != "" {
				header.Set("Origin", tt.origin)
			}
			conn, resp, err := h.dial("one", header)
			require.Equal(t, tt.want, resp.StatusCode)
			if tt.want == http.StatusForbidden {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, conn.Close(websocket.StatusNormalClosure, ""))
		})
	}
	req, err := http.NewRequest("POST", h.url+"/v1/terminals", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := h.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a foreign page may not create terminals either")
}

func TestBadFrames(t *testing.T) {
	tests := []struct {
		name string
		send func(c *client)
		want websocket.StatusCode
	}{
		{"oversized input", func(c *client) { c.send(string(make([]byte, maxFrame+1))) }, websocket.StatusMessageTooBig},
		{"control not JSON", func(c *client) { c.control("resize please") }, websocket.StatusPolicyViolation},
		{"unknown control", func(c *client) { c.control(`{"type":"paste"}`) }, websocket.StatusPolicyViolation},
		{"size out of range", func(c *client) { c.control(`{"type":"resize","cols":0,"rows":9}`) }, websocket.StatusPolicyViolation},
	}
	h := newHarness(t)
	h.create("one")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.attach("one")
			tt.send(c)
			require.Equal(t, tt.want, c.closeStatus())
			h.waitDetached("one")
		})
	}
	require.True(t, h.info("one").Running, "a bad client does not end the shell")
}

func TestInputIsActivityPingIsNot(t *testing.T) {
	h := newHarness(t)
	h.create("one")
	c := h.attach("one")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.conn.Ping(ctx))
	c.control(`{"type":"resize","cols":90,"rows":30}`)
	require.True(t, h.act.Snapshot().Last.IsZero(), "attach, ping and resize are not activity")

	c.send("true\n")
	require.Eventually(t, func() bool { return !h.act.Snapshot().Last.IsZero() }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, "terminal.input", h.act.Snapshot().Source)
}

func TestLimit(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"a", "b", "c"} {
		h.create(id)
	}
	var body struct{ Code string }
	require.Equal(t, http.StatusTooManyRequests, h.do("POST", "/v1/terminals", `{}`, &body))
	require.Equal(t, "TERMINAL_LIMIT_REACHED", body.Code)
	require.Equal(t, http.StatusConflict, h.do("POST", "/v1/terminals", `{"id":"a"}`, &body))
	require.Equal(t, http.StatusBadRequest, h.do("POST", "/v1/terminals", `{"id":"../x"}`, &body))
	require.Equal(t, "TERMINAL_ID_INVALID", body.Code)
	require.Equal(t, http.StatusNotFound, h.do("GET", "/v1/terminals/nope/attach", "", &body))

	clients := []*client{h.attach("a"), h.attach("a")}
	_, resp, err := h.dial("a", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "at most two clients a terminal here")
	for _, c := range clients {
		c.close()
	}
	h.waitDetached("a")

	c := h.attach("a")
	c.send("exit\n")
	c.closeStatus()
	var info terminal.Info
	require.Equal(t, http.StatusCreated, h.do("POST", "/v1/terminals", `{"cols":120,"rows":50}`, &info), "an exited terminal makes room")
	require.Equal(t, 120, info.Cols)
}

// TestFloodWithAClientThatDoesNotRead: output goes into the bounded
// buffer, the stuck client is dropped, the shell and the server go on.
func TestFloodWithAClientThatDoesNotRead(t *testing.T) {
	h := newHarness(t, func(o *terminal.Options) { o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil)) })
	h.create("flood")
	conn, _, err := h.dial("flood", nil)
	require.NoError(t, err)
	defer conn.CloseNow()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, conn.Write(ctx, websocket.MessageBinary, []byte("yes flood\n")))
	// Never read: the socket fills, the server's write times out.
	require.Eventually(t, func() bool { return h.info("flood").Clients == 0 }, 15*time.Second, 50*time.Millisecond, "the stuck client is dropped")

	info := h.info("flood")
	require.True(t, info.Running)
	require.LessOrEqual(t, info.Buffered, 64<<10+64, "the replay buffer holds its cap")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	require.Less(t, ms.HeapInuse, uint64(64<<20), "the heap does not grow with the flood")

	// Still responsive while the flood runs: another tab works.
	h.create("calm")
	calm := h.attach("calm")
	calm.send("echo ca''lm\n")
	calm.waitFor("calm\r\n")

	// The same shell comes back: interrupt the flood and use it.
	back := h.attach("flood")
	back.send("\x03")
	back.send("echo af''ter\n")
	back.waitFor("after\r\n")
}

func TestLoginShell(t *testing.T) {
	tests := []struct {
		name  string
		shell string
		have  []string
		want  string
	}{
		{"SHELL wins", "/usr/bin/zsh", []string{"/usr/bin/zsh", "/bin/bash"}, "/usr/bin/zsh"},
		{"SHELL missing: bash", "/usr/bin/zsh", []string{"/bin/bash"}, "/bin/bash"},
		{"unset: bash", "", []string{"/bin/bash"}, "/bin/bash"},
		{"no bash: sh", "", nil, "/bin/sh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := terminal.LoginShell(func(string) string { return tt.shell }, func(p string) bool {
				for _, h := range tt.have {
					if h == p {
						return true
					}
				}
				return false
			})
			require.Equal(t, tt.want, got)
		})
	}
}

// TestInputToAShellThatDoesNotRead: typing into a full input queue ends
// the client with 1013 after the input timeout; the shell lives on.
func TestInputToAShellThatDoesNotRead(t *testing.T) {
	h := newHarness(t)
	h.create("one")
	c := h.attach("one")
	c.send("stty raw -echo; sleep 1000\n")
	chunk := string(make([]byte, maxFrame))
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.conn.Write(ctx, websocket.MessageBinary, []byte(chunk)) != nil
	}, 20*time.Second, time.Millisecond, "the server never stopped taking input")
	require.Equal(t, websocket.StatusTryAgainLater, c.closeStatus())
	require.True(t, h.info("one").Running)
}
