package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"aileron.dev/pkg/workspace"
)

// maxScreenshotBytes bounds a screenshot read from the browser daemon.
const maxScreenshotBytes = 64 << 20

// pngMagic starts every PNG file.
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// browser prints the workspace browser's front-door URLs: its live preview
// and, with --cdp-url, only the DevTools WebSocket URL a script's CDP
// client (chromedp, Puppeteer, Playwright's connectOverCDP) connects to
// with the CLI's token as its bearer.
func (e *cliEnv) browser(ctx context.Context, args []string) int {
	fs := e.flags("workspace browser", "ID")
	cdpOnly := fs.Bool("cdp-url", false, "print only the DevTools WebSocket URL (send the token as Authorization: Bearer)")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	var version struct {
		Browser string `json:"Browser"`
		WS      string `json:"webSocketDebuggerUrl"`
	}
	base, err := e.getServiceJSON(ctx, pos[0], workspace.ServiceBrowser, "the browser's DevTools version", &version, "json", "version")
	if err != nil {
		return e.fail(err)
	}
	if version.WS == "" {
		return e.fail(&connError{errors.New("the browser's DevTools version names no WebSocket URL")})
	}
	if *cdpOnly {
		fmt.Fprintln(e.stdout, version.WS)
		return exitOK
	}
	out := struct {
		Browser string `json:"browser"`
		Preview string `json:"preview"`
		HTTP    string `json:"cdp_http"`
		WS      string `json:"cdp_websocket"`
	}{version.Browser, base.String(), base.String(), version.WS}
	if e.output == "json" {
		return e.printValue(out)
	}
	table(e.stdout, []string{"WHAT", "URL"}, [][]string{
		{"browser", out.Browser}, {"preview", out.Preview + " (aileron workspace open " + pos[0] + " browser)"},
		{"cdp (http)", out.HTTP}, {"cdp (websocket)", out.WS},
	})
	return exitOK
}

// screenshot writes a PNG of the workspace browser's current tab.
func (e *cliEnv) screenshot(ctx context.Context, args []string) int {
	fs := e.flags("workspace screenshot", "ID")
	// -o names the file here (as in curl -o), not the output format: the
	// output is a PNG; --output still takes table or json, unused.
	var file stringValue
	o := fs.Lookup("o")
	o.Value, o.DefValue, o.Usage = &file, "", "the PNG file to write (required; - for stdout)"
	tab := fs.String("tab", "", "the tab to capture (default: the current one)")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	if file == "" {
		return e.usageError(fs, "-o: the file to write is required")
	}
	base, err := e.serviceURL(ctx, pos[0], workspace.ServiceBrowser)
	if err != nil {
		return e.fail(err)
	}
	u := base.JoinPath("v1", "screenshot")
	if *tab != "" {
		u.RawQuery = url.Values{"target": {*tab}}.Encode()
	}
	resp, err := frontDoorCall(ctx, e.token, http.MethodGet, u.String(), nil)
	if err != nil {
		return e.fail(err)
	}
	defer resp.Body.Close()
	img, err := io.ReadAll(io.LimitReader(resp.Body, maxScreenshotBytes+1))
	if err != nil || len(img) > maxScreenshotBytes || !bytes.HasPrefix(img, pngMagic) {
		return e.fail(&connError{fmt.Errorf("the browser answered no PNG (%d bytes, %v)", len(img), err)})
	}
	if file == "-" {
		_, err = e.stdout.Write(img)
	} else {
		err = os.WriteFile(string(file), img, 0o644)
	}
	if err != nil {
		return e.fail(err)
	}
	if file != "-" {
		fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", file, len(img))
	}
	return exitOK
}

// stringValue is a flag.Value holding a string.
type stringValue string

func (s *stringValue) String() string     { return string(*s) }
func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
