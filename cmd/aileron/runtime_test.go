package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	dockerprov "aileron.dev/services/docker-provisioner/provisioner"
)

// serviceDoor reaches one service of a workspace through the front door of
// `aileron dev`, with the API's bearer token ("dev" in open dev mode), as
// the CLI does.
type serviceDoor struct {
	t    testing.TB
	base string // the REST URL of aileron dev
	host string // <service>--<id>.localhost:<port>
	id   string // the workspace's
}

func newServiceDoor(t testing.TB, base, service, id string) serviceDoor {
	port := base[strings.LastIndex(base, ":")+1:]
	return serviceDoor{t: t, base: base, host: service + "--" + id + ".localhost:" + port, id: id}
}

// logContainers logs the state and the last log lines of every container
// of the workspace: a stream cut between the front door, the gateway's
// ingress and the daemon shows there which hop went away.
func (d serviceDoor) logContainers() {
	docker, err := dockerprov.NewDockerClient()
	if err != nil {
		d.t.Logf("containers: %v", err)
		return
	}
	defer docker.Close()
	ctx := context.Background()
	cs, err := docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", dockerprov.LabelWorkspaceID+"="+d.id))})
	if err != nil {
		d.t.Logf("containers: %v", err)
		return
	}
	for _, c := range cs {
		info, err := docker.ContainerInspect(ctx, c.ID)
		if err != nil {
			d.t.Logf("container %v: %v", c.Names, err)
			continue
		}
		var tail strings.Builder
		if logs, err := docker.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"}); err == nil {
			_, _ = stdcopy.StdCopy(&tail, &tail, logs)
			logs.Close()
		}
		d.t.Logf("container %s: %s, restarts %d, started %s; its last lines:\n%s", info.Name, info.State.Status, info.RestartCount, info.State.StartedAt, tail.String())
	}
}

func (d serviceDoor) do(method, path, contentType string, body io.Reader) *http.Response {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, body)
	require.NoError(d.t, err)
	req.Host = d.host
	req.Header.Set("Authorization", "Bearer dev")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(d.t, err)
	return resp
}

// daemonEvent is one line of the daemon's exec stream (docs/runtime.md).
type daemonEvent struct {
	Type     string `json:"type"`
	Data     string `json:"data"`
	ExitCode *int   `json:"exit_code"`
	TimedOut bool   `json:"timed_out"`
	Error    string `json:"error"`
}

// execResult is a finished exec: its streams apart and its one exit event.
type execResult struct {
	stdout, stderr string
	exit           daemonEvent
}

// execStream starts POST /v1/exec and returns a reader of its events.
func (d serviceDoor) execStream(req map[string]any) (*http.Response, func() (daemonEvent, bool)) {
	d.t.Helper()
	b, err := json.Marshal(req)
	require.NoError(d.t, err)
	resp := d.do(http.MethodPost, "/v1/exec", "application/json", strings.NewReader(string(b)))
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d.t.Fatalf("exec %v: %d %s", req, resp.StatusCode, body)
	}
	require.Equal(d.t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	next := func() (daemonEvent, bool) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				d.t.Logf("exec %v: the stream ended: %v", req, err)
				d.logContainers()
			}
			return daemonEvent{}, false
		}
		var ev daemonEvent
		require.NoError(d.t, json.Unmarshal(sc.Bytes(), &ev), "event %s", sc.Text())
		return ev, true
	}
	return resp, next
}

// exec runs one command to its end and collects its output.
func (d serviceDoor) exec(req map[string]any) execResult {
	d.t.Helper()
	resp, next := d.execStream(req)
	defer resp.Body.Close()
	var r execResult
	exits := 0
	for ev, ok := next(); ok; ev, ok = next() {
		switch ev.Type {
		case "stdout":
			r.stdout += ev.Data
		case "stderr":
			r.stderr += ev.Data
		case "exit":
			exits++
			r.exit = ev
		}
	}
	require.Equal(d.t, 1, exits, "exactly one exit event: %+v", r)
	require.NotNil(d.t, r.exit.ExitCode, "the exit event has an exit code: %+v", r.exit)
	return r
}

// sh runs a shell line and requires it to exit 0.
func (d serviceDoor) sh(line string) string {
	d.t.Helper()
	r := d.exec(map[string]any{"shell": line, "timeout_ms": 120000})
	require.Equal(d.t, 0, *r.exit.ExitCode, "%q: stdout %q stderr %q", line, r.stdout, r.stderr)
	return r.stdout
}

func (d serviceDoor) putFile(path, content string) {
	d.t.Helper()
	resp := d.do(http.MethodPut, "/v1/files/content?parents=true&path="+path, "application/octet-stream", strings.NewReader(content))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(d.t, http.StatusOK, resp.StatusCode, "%s", body)
}

func (d serviceDoor) getFile(path string) (int, string) {
	d.t.Helper()
	resp := d.do(http.MethodGet, "/v1/files/content?path="+path, "", nil)
	body, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// TestDevRuntimeIsReal: `aileron dev` with the default images runs the
// runtime daemon (aileron/workspace-runtime:dev, built from Debian's
// packages by hack/workspace-images.sh) as the runtime and the terminal,
// Chromium behind the browser daemon, and the canvas daemon.
// Through the front door: commands run with their output streamed and
// their exit codes; files written through the API are read back; the
// tools go out through the workspace's egress gateway; the workspace's
// files and the user's home survive a stop and start.
func TestDevRuntimeIsReal(t *testing.T) {
	buildImages(t)
	base := startDev(t, "--docker=on")
	w := restCreate(t, base, `{"name": "real-runtime", "provisioner": "docker", "canvas_enabled": true}`)
	id := w["id"].(string)
	t.Cleanup(func() { restDelete(t, base, id) })
	restWaitState(t, base, id, "running")
	services := getJSON(t, base+"/api/v1/workspaces/"+id)["services"].(map[string]any)
	for _, s := range []string{"runtime", "terminal", "browser", "canvas"} {
		require.Equal(t, "running", services[s].(map[string]any)["state"], "%s: %v", s, services[s])
	}
	rt := newServiceDoor(t, base, "runtime", id)
	term := newServiceDoor(t, base, "terminal", id)

	t.Run("exec", func(t *testing.T) {
		rt.t = t
		r := rt.exec(map[string]any{"argv": []string{"git", "--version"}})
		require.Equal(t, 0, *r.exit.ExitCode)
		require.Regexp(t, `^git version 2\.\d+`, r.stdout)

		r = rt.exec(map[string]any{"argv": []string{"python3", "-c", "print(6*7)"}})
		require.Equal(t, 0, *r.exit.ExitCode)
		require.Equal(t, "42\n", r.stdout)

		r = rt.exec(map[string]any{"shell": "echo out; echo err >&2; exit 3"})
		require.Equal(t, 3, *r.exit.ExitCode, "the command's exit code")
		require.Equal(t, "out\n", r.stdout)
		require.Equal(t, "err\n", r.stderr, "stderr apart from stdout")

		r = rt.exec(map[string]any{"argv": []string{"python3", "-c", "import sys; sys.exit(5)"}})
		require.Equal(t, 5, *r.exit.ExitCode)

		// Streamed as it happens: the command prints, then waits for a file
		// only this test creates after it has read that line. Buffered
		// output would never reach the test and the command would time out.
		resp, next := rt.execStream(map[string]any{
			"shell":      `echo ready; while [ ! -e go.flag ]; do sleep 0.05; done; echo done`,
			"timeout_ms": 60000,
		})
		defer resp.Body.Close()
		ev, ok := next()
		require.True(t, ok)
		require.Equal(t, daemonEvent{Type: "stdout", Data: "ready\n"}, ev)
		rt.putFile("go.flag", "")
		ev, ok = next()
		require.True(t, ok)
		require.Equal(t, daemonEvent{Type: "stdout", Data: "done\n"}, ev)
		ev, ok = next()
		require.True(t, ok)
		require.Equal(t, "exit", ev.Type)
		require.Equal(t, 0, *ev.ExitCode)
		require.False(t, ev.TimedOut)
		_, ok = next()
		require.False(t, ok, "the exit event is the last")
	})

	t.Run("environment", func(t *testing.T) {
		rt.t = t
		require.Equal(t, "65532:65532 workspace /workspace/.home /workspace\n", rt.sh(`echo "$(id -u):$(id -g) $(id -un) $HOME $(pwd)"`))
		require.Equal(t, "C.UTF-8\n", rt.sh(`echo "$LANG"`))
		require.Equal(t, "héllo\n", rt.sh(`python3 -c 'print("h\u00e9llo")'`), "a UTF-8 locale")
		for _, tool := range []string{"bash", "curl", "ssh", "pip3", "node", "npm", "rg", "jq", "tmux", "less", "nano", "ps"} {
			rt.sh("command -v " + tool)
		}
		rt.sh(`python3 -m venv /tmp/venv && /tmp/venv/bin/python -c 'import sys; print(sys.prefix)'`)
		_ = rt.sh(`test -f /usr/share/javascript/xterm/xterm.js`)
		// Read-only root filesystem; /workspace, the home and /tmp are writable.
		r := rt.exec(map[string]any{"shell": "touch /usr/local/x"})
		require.NotEqual(t, 0, *r.exit.ExitCode, "the root filesystem is read-only")
		require.Contains(t, r.stderr, "Read-only file system")
		rt.sh(`touch /tmp/x ~/x /workspace/x && rm /tmp/x ~/x /workspace/x`)
		// The proxy settings name the workspace's gateway, in both spellings.
		out := rt.sh(`echo "$HTTP_PROXY $HTTPS_PROXY $http_proxy $https_proxy"`)
		proxies := strings.Fields(out)
		require.Len(t, proxies, 4, out)
		for _, p := range proxies {
			require.Equal(t, proxies[0], p)
		}
		require.Regexp(t, `^http://[0-9.]+:3128$`, proxies[0])
		require.Contains(t, rt.sh(`echo "$NO_PROXY"`), "localhost")
		// The runtime and the terminal run the same daemon on one volume.
		require.Equal(t, "runtime\n", rt.sh("hostname"))
		require.Equal(t, "terminal\n", term.sh("hostname"))
	})

	t.Run("tools go through the gateway", func(t *testing.T) {
		rt.t = t
		// A host outside the allowlist: the gateway answers 403 (a tool
		// that ignored the proxy would find no route and no resolver).
		// An allowed host needs an internet: aileron dev has none offline,
		// the docker provisioner's TestEgressEndToEnd has its fake one.
		require.Equal(t, "403", rt.sh(`curl -sS -o /dev/null -w '%{http_code}' http://denied.example/`))
		r := rt.exec(map[string]any{"shell": "curl -sS -o /dev/null https://denied.example/"})
		require.NotEqual(t, 0, *r.exit.ExitCode)
		require.Contains(t, r.stderr, "403", "CONNECT refused by the gateway")
		r = rt.exec(map[string]any{"shell": "git ls-remote https://denied.example/repo.git"})
		require.NotEqual(t, 0, *r.exit.ExitCode)
		require.Contains(t, r.stderr, "403", "git uses the proxy")
		r = rt.exec(map[string]any{"shell": "pip3 download -vv --no-deps --retries 0 --timeout 20 -d /tmp/pip --index-url https://denied.example/simple nothing"})
		require.NotEqual(t, 0, *r.exit.ExitCode)
		require.Contains(t, r.stdout+r.stderr, "403", "pip uses the proxy")
		r = rt.exec(map[string]any{"shell": "npm view left-pad --fetch-retries 0 --registry https://denied.example/"})
		require.NotEqual(t, 0, *r.exit.ExitCode)
		require.Contains(t, r.stdout+r.stderr, "403", "npm uses the proxy")
	})

	t.Run("terminal page and the CLI", func(t *testing.T) {
		term.t = t
		resp := term.do(http.MethodGet, "/", "", nil)
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")
		resp = term.do(http.MethodGet, "/terminal-ui/xterm.js", "", nil)
		js, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "the image carries xterm.js (node-xterm): %.300s", js)
		require.Greater(t, len(js), 50_000, "the wrapped xterm.js, not a stub")

		var out, errOut syncBuffer
		code := run(context.Background(), []string{"workspace", "exec", "--api", base, id, "--", "sh", "-c", "git --version; echo oops >&2; exit 7"},
			strings.NewReader(""), &out, &errOut)
		require.Equal(t, 7, code, "stderr: %s", errOut.String())
		require.Regexp(t, `^git version 2\.`, out.String())
		require.Contains(t, errOut.String(), "oops")
	})

	t.Run("the terminal in a real browser", func(t *testing.T) {
		rt.t = t
		// The console: the workspace's page, its Terminal button, the tab it
		// opens (headless Chromium; *.localhost is loopback to it).
		ctx := headlessChromium(t)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(base+"/workspaces/"+id)))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(b => b && !b.disabled)(document.querySelector('#action-terminal'))`,
			chromedp.WithPollingTimeout(time.Minute)))
		require.NoError(t, err, "the console's Terminal button never became usable")
		opened := chromedp.WaitNewTarget(ctx, serviceTab("terminal", id))
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#action-terminal`))))
		tab, ok := <-opened
		require.True(t, ok, "the Terminal button opened no tab")
		ctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(tab))
		defer cancel()
		eval := func(expr string) string {
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
			require.NoError(t, err, expr)
			return v
		}
		// The front door may still be navigating the tab (it takes the
		// ticket out of the address), and a reload navigates again: an
		// evaluation then fails with "target navigated", so the polls
		// retry it, and what they report on a timeout is read at that time.
		waitScreen := func(what string, ok func(screen string) bool) {
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.aileronTerminal ? aileronTerminal.text() : ""`))
				require.NoError(c, err)
				require.True(c, ok(v), "%s; screen: %q", what, v)
			}, time.Minute, 100*time.Millisecond)
		}
		connected := func() {
			require.EventuallyWithT(t, func(c *assert.CollectT) {
				v, err := chromedp.Run(ctx, chromedp.Evaluate[string](
					`JSON.stringify([!!(window.aileronTerminal && aileronTerminal.connected()), document.body ? document.body.innerText.slice(0, 300) : ""])`))
				require.NoError(c, err)
				require.True(c, strings.HasPrefix(v, "[true,"), "the page never attached: %s", v)
			}, time.Minute, 100*time.Millisecond)
		}
		typeLine := func(line string) {
			require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(".xterm-helper-textarea"), line+"\r")))
		}
		connected()
		typeLine("echo hello; export MARK=$$")
		hello := regexp.MustCompile(`(?m)^hello\s*$`)
		waitScreen("no hello", hello.MatchString)
		require.Contains(t, eval(`location.href`), "terminal--"+id+".localhost", "the terminal has an origin of its own")
		// The terminal runs in a container of its own; typing there is the
		// workspace's activity, as the runtime answers it.
		require.Eventually(t, func() bool {
			resp := rt.do(http.MethodGet, "/v1/activity", "", nil)
			defer resp.Body.Close()
			var a struct{ Source string }
			return json.NewDecoder(resp.Body).Decode(&a) == nil && a.Source == "terminal.input"
		}, time.Minute, 200*time.Millisecond, "the runtime's activity never showed the terminal's input")

		// A reload brings the same shell back with its output.
		require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
		connected()
		waitScreen("the earlier output is not back", hello.MatchString)
		typeLine("echo same-$MARK-$$")
		same := regexp.MustCompile(`(?m)^same-(\d+)-(\d+)\s*$`)
		waitScreen("not the same shell", func(screen string) bool {
			m := same.FindStringSubmatch(screen)
			return m != nil && m[1] == m[2]
		})
	})

	t.Run("a port's preview through the front door", func(t *testing.T) {
		rt.t = t
		rt.putFile("site/index.html", "<title>preview</title>served from the workspace\n")
		req := `{"tag": "web", "argv": ["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"], "cwd": "site"}`
		resp := rt.do(http.MethodPost, "/v1/sessions", "application/json", strings.NewReader(req))
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
		defer func() { rt.do(http.MethodDelete, "/v1/sessions/web", "", nil).Body.Close() }()

		// The CLI lists the port with its preview's URL once it listens.
		port := base[strings.LastIndex(base, ":")+1:]
		preview := "http://8000--" + id + ".localhost:" + port + "/"
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			out, errOut := &syncBuffer{}, &syncBuffer{}
			code := run(context.Background(), []string{"workspace", "ports", "--api", base, id}, strings.NewReader(""), out, errOut)
			require.Equal(c, 0, code, "stderr: %s", errOut.String())
			if !strings.Contains(out.String(), preview) {
				resp := rt.do(http.MethodGet, "/v1/sessions/web/output?follow=false", "", nil)
				log, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				c.Errorf("%s does not list %s; the server's session: %s", out.String(), preview, log)
			}
		}, time.Minute, 200*time.Millisecond, "aileron workspace ports never listed the server's preview")
		listing := &syncBuffer{}
		require.Equal(t, 0, run(context.Background(), []string{"workspace", "ports", "--api", base, id}, strings.NewReader(""), listing, &syncBuffer{}))
		daemonPort := strings.TrimSpace(strings.TrimPrefix(rt.sh("echo $AILERON_ADDR"), ":"))
		require.NotContains(t, listing.String(), daemonPort+"--"+id, "the daemon's own port has no preview URL")
		// Docker's DNS resolver listens in the container too (127.0.0.11);
		// it answers no HTTP, so it has no preview.
		resolver := false
		for line := range strings.Lines(listing.String()) {
			if f := strings.Fields(line); len(f) == 3 && f[1] == "127.0.0.11" {
				resolver = true
				require.Equal(t, "-", f[2], "the engine's resolver has no preview: %s", listing)
			}
		}
		require.True(t, resolver, "the engine's resolver is listed: %s", listing)

		web := newServiceDoor(t, base, "8000", id)
		resp = web.do(http.MethodGet, "/index.html", "", nil)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		require.Equal(t, "<title>preview</title>served from the workspace\n", string(body))

		// The daemons' own ports have no preview; a port nothing listens on
		// says so.
		for p, code := range map[string]string{daemonPort: "PREVIEW_PORT_REFUSED", "9": "PREVIEW_PORT_NOT_LISTENING"} {
			resp := newServiceDoor(t, base, p, id).do(http.MethodGet, "/", "", nil)
			var e struct{ Code string }
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			resp.Body.Close()
			require.Equal(t, code, e.Code, "port %s", p)
		}

		// A browser gets a one-time link for that port's origin only.
		resp, err := http.Post(base+"/api/v1/workspaces/"+id+"/services/runtime:open", "application/json", strings.NewReader(`{"port": 8000}`))
		require.NoError(t, err)
		var link struct{ URL string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&link))
		resp.Body.Close()
		require.True(t, strings.HasPrefix(link.URL, strings.TrimSuffix(preview, "/")+"/_aileron/enter?ticket="), link.URL)
		enter := link.URL[strings.Index(link.URL, "/_aileron/"):]
		resp = newServiceDoor(t, base, "8001", id).do(http.MethodGet, enter, "", nil)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a port's ticket opens no other port")
		ctx := headlessChromium(t)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(link.URL)))
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		require.NoError(t, err)
		require.Contains(t, text, "served from the workspace", "the browser entered the preview's origin")
	})

	t.Run("the browser through the front door, the CLI and the agent", func(t *testing.T) {
		rt.t = t
		testDevBrowser(t, base, id, rt)
	})

	t.Run("the canvas renders what the agent writes and reloads", func(t *testing.T) {
		rt.t = t
		testDevCanvas(t, base, id, rt)
	})

	t.Run("files and home survive stop and start", func(t *testing.T) {
		rt.t, term.t = t, t
		rt.putFile("notes/hello.txt", "hello from the files API\n")
		code, body := rt.getFile("notes/hello.txt")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "hello from the files API\n", body)
		require.Equal(t, "hello from the files API\n", term.sh("cat /workspace/notes/hello.txt"), "the terminal sees the same /workspace")
		rt.sh(`git config --global user.name "Ada Tester" && echo 'echo remembered' >> ~/.bash_history`)

		restCommand(t, base, id, "stop")
		restWaitState(t, base, id, "stopped")
		restCommand(t, base, id, "start")
		restWaitState(t, base, id, "running")

		require.Eventually(t, func() bool {
			code, body = rt.getFile("notes/hello.txt")
			return code == http.StatusOK
		}, time.Minute, 200*time.Millisecond)
		require.Equal(t, "hello from the files API\n", body)
		require.Equal(t, "Ada Tester\n", rt.sh("git config --global user.name"), "the home directory survives")
		require.Equal(t, "echo remembered\n", term.sh("cat ~/.bash_history"))
	})
}

// serviceTab matches the tab the console opens for a service of the
// workspace once it has left about:blank for the service's origin:
// attaching earlier races with that navigation ("Inspected target
// navigated or closed").
func serviceTab(service, id string) func(*target.Info) bool {
	return func(info *target.Info) bool {
		return info.Type == "page" && strings.Contains(info.URL, "://"+service+"--"+id+".localhost")
	}
}

// headlessChromium starts Debian's Chromium (AILERON_CHROMIUM overrides the
// path) for one test.
func headlessChromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("AILERON_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	_, err := os.Stat(path)
	require.NoError(t, err, "headless Chromium is required: apt-get install chromium (hack/setup.sh installs it)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Headless, chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1000, 700))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(browser, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		// Close the browser and wait for it and its goroutines to end, so
		// the package's goroutine-leak check does not see them.
		closing, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		_ = chromedp.Cancel(closing)
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}
