package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
)

// maxExecStdin caps what --stdin sends: the runtime daemon's JSON body cap
// (1 MiB by default) with room for the rest of the request.
const maxExecStdin = 1<<20 - 64<<10

// envFlag collects repeated --env K=V.
type envFlag map[string]string

func (f envFlag) String() string { return "" }

func (f envFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want NAME=value", v)
	}
	f[k] = val
	return nil
}

// execRequest is the runtime daemon's POST /v1/exec body (docs/runtime.md).
type execRequest struct {
	Argv      []string          `json:"argv"`
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Stdin     string            `json:"stdin,omitempty"`
	TimeoutMS int64             `json:"timeout_ms,omitempty"`
}

// execEvent is one line of its stream.
type execEvent struct {
	Type     string `json:"type"`
	Data     string `json:"data"`
	DataB64  string `json:"data_b64"`
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal"`
	TimedOut bool   `json:"timed_out"`
	Error    string `json:"error"`
}

// exec runs a command in the workspace's runtime through the front door,
// streaming its output to the local stdout and stderr as it comes, and
// exits with the command's exit code (128+n when signal n ended it).
func (e *cliEnv) exec(ctx context.Context, args []string) int {
	fs := e.flags("workspace exec", "")
	e.usageLine = "usage: aileron workspace exec ID [flags] -- CMD [ARGS...]" // flags after -- are the command's
	cwd := fs.String("cwd", "", "working directory, under the workspace root (default the root)")
	env := envFlag{}
	fs.Var(env, "env", "NAME=value added to the command's environment; repeatable")
	timeout := fs.Duration("timeout", 0, "kill the command after this long (default the runtime's, 10m)")
	stdin := fs.Bool("stdin", false, "send the local stdin (read to its end, at most ~1 MiB of text) as the command's stdin")
	own, command := splitCommand(args)
	pos, code, ok := e.parse(fs, own, 1, 64)
	if !ok {
		return code
	}
	command = append(pos[1:], command...)
	if len(command) == 0 {
		return e.usageError(fs, "no command: give it after --, e.g. aileron workspace exec ID -- ls -la")
	}
	req := execRequest{Argv: command, Cwd: *cwd, Env: env, TimeoutMS: timeout.Milliseconds()}
	if *stdin {
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxExecStdin+1))
		if err != nil {
			fmt.Fprintf(e.stderr, "error: STDIN: %v\n", err)
			return exitAPI
		}
		if len(b) > maxExecStdin {
			return e.usageError(fs, fmt.Sprintf("--stdin: more than %d bytes; copy a file with the files API instead", maxExecStdin))
		}
		req.Stdin = string(b)
	}
	base, err := e.serviceURL(ctx, pos[0], workspace.ServiceRuntime)
	if err != nil {
		return e.fail(err)
	}
	resp, err := frontDoorCall(ctx, e.token, http.MethodPost, base.JoinPath("v1", "exec").String(), req)
	if err != nil {
		return e.fail(err)
	}
	defer resp.Body.Close()
	return e.copyExec(ctx, resp.Body)
}

// splitCommand splits args at the first "--": the CLI's own arguments
// before it, the command after it.
func splitCommand(args []string) (own, command []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}

// copyExec copies an exec stream to the local streams and returns the
// command's exit code.
func (e *cliEnv) copyExec(ctx context.Context, body io.Reader) int {
	dec := json.NewDecoder(body)
	for {
		var ev execEvent
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(e.stderr, "error: CANCELED: interrupted; the command was killed")
				return 130
			}
			fmt.Fprintf(e.stderr, "error: UNAVAILABLE: the exec stream ended before the command's exit: %v\n", err)
			return exitUnavailable
		}
		data := []byte(ev.Data)
		if ev.DataB64 != "" {
			b, err := base64.StdEncoding.DecodeString(ev.DataB64)
			if err != nil {
				fmt.Fprintf(e.stderr, "error: INTERNAL: bad data_b64 in the exec stream: %v\n", err)
				return exitAPI
			}
			data = b
		}
		switch ev.Type {
		case "stdout":
			_, _ = e.stdout.Write(data)
		case "stderr":
			_, _ = e.stderr.Write(data)
		case "exit":
			switch {
			case ev.TimedOut:
				fmt.Fprintf(e.stderr, "aileron: the command timed out and was killed (%s)\n", or(ev.Signal, "KILL"))
			case ev.Error != "":
				fmt.Fprintf(e.stderr, "error: %s: %s\n", errcode.CommandStartFailed, ev.Error)
				if ev.ExitCode <= 0 {
					return exitAPI
				}
			}
			return ev.ExitCode
		}
	}
}

// frontDoorCall sends a JSON request to a workspace service through the
// front door with the CLI's token; an error answer becomes an apiError.
// The context alone bounds it: a stream runs as long as its command.
func frontDoorCall(ctx context.Context, token, method, target string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", frontDoorAuth(token))
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Transport: frontDoorTransport(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, &connError{fmt.Errorf("cannot reach %s: %w", target, err)}
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, decodeError(resp.StatusCode, data)
	}
	return resp, nil
}
