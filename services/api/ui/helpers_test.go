package ui_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/server"
	"aileron.dev/services/api/ui"
	"aileron.dev/services/firewall/firewall"
	"aileron.dev/services/firewall/policy"
)

// diagnostics holds, per test, a func returning the browser's log so far.
var diagnostics sync.Map

var updateScreenshots = flag.Bool("update-screenshots", false, "write the screenshots to docs/screenshots instead of a temp dir")

// chromiumPath is Debian's chromium; AILERON_CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("AILERON_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// startConsole starts the api service with the UI and the firewall service
// (so effective domains are real), like `aileron dev` minus a provisioner.
// With a token, the API requires it as a static bearer token.
func startConsole(t *testing.T, token ...string) *apitest.Env {
	t.Helper()
	env := apitest.Start(t, apitest.Options{Server: func(c *server.Config) {
		c.UI = ui.Handler()
		if len(token) > 0 {
			c.Secure(auth.NewGuard(tokenAuth(t, token[0]), nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
		}
	}})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defaults := policy.Defaults{Workspace: []string{"api.anthropic.com", "proxy.golang.org", "github.com"}, Browser: []string{}}
	fw, err := firewall.New(ctx, firewall.Config{Defaults: defaults}, env.JS, log)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { _ = fw.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return env
}

// tokenAuth accepts one static admin token.
func tokenAuth(t *testing.T, token string) *auth.Authenticator {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	h := hex.EncodeToString(sum[:])
	a, err := auth.New(auth.Config{Tokens: map[string]auth.StaticToken{h: {Name: "ui-test", SHA256: h, Admin: true}}})
	require.NoError(t, err)
	return a
}

// browser starts headless Chromium; a missing binary fails the test.
// JavaScript exceptions and console errors fail it at cleanup; extra
// listeners see every event too.
func browser(t *testing.T, extra ...func(ev any)) context.Context {
	t.Helper()
	path := chromiumPath()
	_, err := os.Stat(path)
	require.NoError(t, err, "headless Chromium is required for the UI tests: apt-get install chromium (or set AILERON_CHROMIUM)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var mu sync.Mutex
	var jsErrors, browserLog []string
	diagnostics.Store(t, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(browserLog)
	})
	listen := func(ev any) {
		for _, f := range extra {
			f(ev)
		}
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *cdplog.EventEntryAdded:
			browserLog = append(browserLog, fmt.Sprintf("log %s %s: %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		case *network.EventLoadingFailed:
			browserLog = append(browserLog, fmt.Sprintf("loading failed %s: %s canceled=%v", ev.Type, ev.ErrorText, ev.Canceled))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			jsErrors = append(jsErrors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				jsErrors = append(jsErrors, "console.error: "+strings.Join(parts, " "))
			}
		}
	}
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		mu.Lock()
		defer mu.Unlock()
		require.Empty(t, jsErrors, "the console logged JavaScript errors")
	})
	return ctx
}

// screenshot saves a full-page PNG of the current view.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("AILERON_UI_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if *updateScreenshots {
		dir = filepath.Join("..", "..", "..", "docs", "screenshots")
	}
	// Scroll up (the top bar is sticky) and drop transient toasts first.
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](
		`window.scrollTo(0, 0); document.getElementById('toasts').replaceChildren()`)))
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), buf, 0o644))
	t.Logf("screenshot %s (%d bytes)", filepath.Join(dir, name), len(buf))
}

// workspace reads a workspace over gRPC.
func workspace(t *testing.T, env *apitest.Env, id string) *workspacev1.Workspace {
	t.Helper()
	resp, err := env.Client.GetWorkspace(context.Background(), &workspacev1.GetWorkspaceRequest{Id: id})
	require.NoError(t, err)
	return resp.Workspace
}

// report publishes a provisioner status report for the workspace's current
// generation, as a provisioner would after converging.
func report(t *testing.T, env *apitest.Env, id, phase, reason string, services *workspacev1.Services) {
	t.Helper()
	w := workspace(t, env, id)
	r := &eventsv1.StatusReport{WorkspaceId: id, ObservedGeneration: w.Generation, Phase: phase, Reason: reason,
		Services: services, Reporter: "test", Time: timestamppb.Now()}
	msgID := fmt.Sprintf("%s-%d-%s-%d", id, w.Generation, phase, time.Now().UnixNano())
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(id), msgID, r))
}

// runningServices is what a provisioner reports for a converged workspace.
func runningServices(id string, canvas bool) *workspacev1.Services {
	svc := func(name, image string) *workspacev1.ServiceStatus {
		return &workspacev1.ServiceStatus{Enabled: true, State: "running", Image: image,
			Endpoint: "http://127.0.0.1:41080/w/" + id + "/" + name + "/", LastRestartTime: timestamppb.Now()}
	}
	s := &workspacev1.Services{
		Runtime:  svc("runtime", "aileron/workspace-runtime:dev"),
		Terminal: svc("terminal", "aileron/workspace-terminal:dev"),
		Browser:  svc("browser", "aileron/workspace-chrome:dev"),
	}
	if canvas {
		s.Canvas = svc("canvas", "aileron/workspace-canvas:dev")
	}
	return s
}

// firewallApplied publishes the enforcer's "applied" for the current settings revision.
func firewallApplied(t *testing.T, env *apitest.Env, id string) {
	t.Helper()
	w := workspace(t, env, id)
	rev := w.GetFirewallStatus().GetRevision()
	r := &eventsv1.FirewallReport{WorkspaceId: id, Revision: rev, Phase: "applied", Message: "egress gateway enforces revision " + fmt.Sprint(rev),
		Reporter: "test", Time: timestamppb.Now()}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.FirewallStatusSubject(id),
		fmt.Sprintf("%s-fw-%d-applied-test", id, rev), r))
}

// create makes a workspace over gRPC.
func create(t *testing.T, env *apitest.Env, req *workspacev1.CreateWorkspaceRequest) *workspacev1.Workspace {
	t.Helper()
	resp, err := env.Client.CreateWorkspace(context.Background(), req)
	require.NoError(t, err)
	return resp.Workspace
}

// text reads the text content of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, "text of %s", sel)
	return s
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, "evaluate %s", expr)
	return v
}

// disabled reports whether the element matching a CSS selector is disabled.
func disabled(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	return eval[bool](t, ctx, fmt.Sprintf(`document.querySelector(%q).disabled`, sel))
}

// waitJS polls a JavaScript expression in the page until it is truthy.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(waitFor))(ctx, tg)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", expr, err)
		}
		return nil
	})
}

// setValue sets a form control's value as typing would: with input and change events.
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, sel, v))
}

// visible waits for an element matching a CSS selector to be visible.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		ctx, cancel := context.WithTimeout(ctx, waitFor)
		defer cancel()
		if _, err := chromedp.WaitVisible(chromedp.CSS(sel))(ctx, tg); err != nil {
			return fmt.Errorf("wait for %s to be visible: %w", sel, err)
		}
		return nil
	})
}

// steps runs actions; on failure it logs the page's text and saves a
// screenshot, so a failing step shows what the user would have seen.
func steps(t *testing.T, ctx context.Context) func(what string, actions ...chromedp.Action[chromedp.Void]) {
	return func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		err := chromedp.Do(ctx, actions...)
		if err == nil {
			return
		}
		if page, perr := chromedp.Run(ctx, chromedp.Evaluate[string](`[location.href, document.readyState,
			...performance.getEntriesByType('resource').map(e => e.name + ' status=' + e.responseStatus + ' ms=' + Math.round(e.duration)),
			document.body.innerText].join("\n")`)); perr == nil {
			t.Logf("page at failure:\n%s", page)
		}
		if d, ok := diagnostics.Load(t); ok {
			t.Logf("browser log:\n%s", strings.Join(d.(func() []string)(), "\n"))
		}
		screenshot(t, ctx, "failure.png")
		require.NoError(t, err, what)
	}
}

// waitFor bounds every wait in the page; generous because the machine's two
// cores are shared and a loaded Chromium can be slow to start.
const waitFor = 30 * time.Second
