// Package pagetest starts Debian's headless Chromium for the tests of the
// daemons' pages (the terminal page, the canvas) and fails a test whose page
// logged an error.
package pagetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Options adjust the browser.
type Options struct {
	// Width and Height size the window; zero keeps Chromium's default.
	Width, Height int
	// IgnoreURLSuffix, when set, drops logged errors about URLs ending in
	// it (a page without a favicon logs its 404).
	IgnoreURLSuffix string
}

// Browser starts Chromium (AILERON_CHROMIUM overrides /usr/bin/chromium) for
// one test. Logged errors, JavaScript exceptions and console.error calls
// (a CSP violation is one) fail the test at cleanup.
func Browser(t *testing.T, o Options) context.Context {
	t.Helper()
	path := os.Getenv("AILERON_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	_, err := os.Stat(path)
	require.NoError(t, err, "headless Chromium is required: apt-get install chromium (or set AILERON_CHROMIUM)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	if o.Width > 0 && o.Height > 0 {
		opts = append(opts, chromedp.WindowSize(o.Width, o.Height))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var mu sync.Mutex
	var problems []string
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *cdplog.EventEntryAdded:
			ignored := o.IgnoreURLSuffix != "" && strings.HasSuffix(ev.Entry.URL, o.IgnoreURLSuffix)
			if ev.Entry.Level == cdplog.EntryLevelError && !ignored {
				problems = append(problems, fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console.error")
			}
		}
	}))
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		mu.Lock()
		defer mu.Unlock()
		require.Empty(t, problems, "the page logged errors")
	})
	return ctx
}
