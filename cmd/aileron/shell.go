package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/coder/websocket"
	"golang.org/x/term"

	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
)

// terminalInfo is the part of the terminal API's info the CLI reads.
type terminalInfo struct {
	ID      string `json:"id"`
	Running bool   `json:"running"`
}

// terminalControl is a text message of the terminal WebSocket.
type terminalControl struct {
	Type     string `json:"type"`
	Cols     int    `json:"cols,omitempty"`
	Rows     int    `json:"rows,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`
}

// shell attaches the local terminal to a shell in the workspace: a new
// terminal, or with --terminal the one of that id (created if missing).
// The local TTY is in raw mode until the end, so keys such as Ctrl-C go to
// the remote shell; the exit code is the shell's.
func (e *cliEnv) shell(ctx context.Context, args []string) int {
	fs := e.flags("workspace shell", "ID")
	tid := fs.String("terminal", "", "attach to this terminal id (created if it does not exist; default: a new terminal)")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	base, err := e.serviceURL(ctx, pos[0], workspace.ServiceTerminal)
	if err != nil {
		return e.fail(err)
	}
	tty := newLocalTerminal(e.stdin)
	cols, rows := tty.size()
	info, err := e.openTerminal(ctx, base.JoinPath("v1", "terminals").String(), *tid, cols, rows)
	if err != nil {
		return e.fail(err)
	}
	wsURL := base.JoinPath("v1", "terminals", info.ID, "attach")
	wsURL.Scheme = map[string]string{"https": "wss"}[wsURL.Scheme]
	if wsURL.Scheme == "" {
		wsURL.Scheme = "ws"
	}
	conn, resp, err := websocket.Dial(ctx, wsURL.String(), &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: frontDoorTransport()},
		HTTPHeader: http.Header{"Authorization": {frontDoorAuth(e.token)}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode >= 300 {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			return e.fail(decodeError(resp.StatusCode, data))
		}
		return e.fail(&connError{fmt.Errorf("attach to terminal %s: %w", info.ID, err)})
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	fmt.Fprintf(e.stderr, "attached to terminal %s of workspace %s (detach by closing this window; re-attach: aileron workspace shell %s --terminal %s)\r\n", info.ID, pos[0], pos[0], info.ID)
	if err := tty.raw(); err != nil {
		fmt.Fprintf(e.stderr, "error: TTY: %v\n", err)
		return exitAPI
	}
	defer tty.restore()
	return e.attachTerminal(ctx, conn, tty, info.ID, pos[0])
}

// openTerminal creates a terminal, or finds the running one of that id.
func (e *cliEnv) openTerminal(ctx context.Context, target, id string, cols, rows int) (terminalInfo, error) {
	var info terminalInfo
	resp, err := frontDoorCall(ctx, e.token, http.MethodPost, target, map[string]any{"id": id, "cols": cols, "rows": rows})
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == errcode.TerminalExists {
		info.ID = id
		return info, nil // running: attach to it
	}
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.ID == "" {
		return info, &connError{fmt.Errorf("the answer of POST %s is not a terminal: %v", target, err)}
	}
	return info, nil
}

// attachTerminal pumps the local input to the terminal and its output to
// stdout until the shell exits or the connection ends.
func (e *cliEnv) attachTerminal(ctx context.Context, conn *websocket.Conn, tty *localTerminal, id, ws string) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The input pump is not waited for: a read of the real stdin cannot be
	// interrupted, and it ends with the process.
	go pumpInput(ctx, conn, e.stdin)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range tty.resized(ctx) {
			cols, rows := tty.size()
			js, _ := json.Marshal(terminalControl{Type: "resize", Cols: cols, Rows: rows})
			if conn.Write(ctx, websocket.MessageText, js) != nil {
				return
			}
		}
	}()
	exit := -1
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			cancel()
			tty.restore()
			if exit >= 0 {
				return exit
			}
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				fmt.Fprintf(e.stderr, "\r\ndetached: the shell keeps running (aileron workspace shell %s --terminal %s)\n", ws, id)
				return 130
			}
			msg := err.Error()
			if s := websocket.CloseStatus(err); s != -1 {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					msg = fmt.Sprintf("closed with status %d: %s", s, ce.Reason)
				}
			}
			fmt.Fprintf(e.stderr, "\r\nerror: UNAVAILABLE: the connection to terminal %s ended (%s); the shell keeps running: aileron workspace shell %s --terminal %s\n", id, msg, ws, id)
			return exitUnavailable
		}
		if typ == websocket.MessageBinary {
			_, _ = e.stdout.Write(data)
			continue
		}
		var c terminalControl
		if json.Unmarshal(data, &c) == nil && c.Type == "exit" && c.ExitCode != nil {
			exit = *c.ExitCode
		}
	}
}

// pumpInput sends what the local stdin gives as binary messages; at its
// end the shell keeps running (its output is still read).
func pumpInput(ctx context.Context, conn *websocket.Conn, in io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if conn.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// localTerminal is the local stdin when it is a terminal: its size, raw
// mode and resizes; for any other stdin these do nothing.
type localTerminal struct {
	fd    int
	isTTY bool
	mu    sync.Mutex
	state *term.State
}

func newLocalTerminal(in io.Reader) *localTerminal {
	t := &localTerminal{fd: -1}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		t.fd, t.isTTY = int(f.Fd()), true
	}
	return t
}

// size is the local terminal's size; 80x24 when stdin is no terminal.
func (t *localTerminal) size() (cols, rows int) {
	if t.isTTY {
		if c, r, err := term.GetSize(t.fd); err == nil && c > 0 && r > 0 {
			return c, r
		}
	}
	return 80, 24
}

func (t *localTerminal) raw() error {
	if !t.isTTY {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return fmt.Errorf("raw mode: %w", err)
	}
	t.state = st
	return nil
}

// restore puts the terminal back as it was; a second call does nothing.
func (t *localTerminal) restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != nil {
		_ = term.Restore(t.fd, t.state)
		t.state = nil
	}
}
