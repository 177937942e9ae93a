package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
)

const workspaceUsage = `usage: aileron workspace <command> [flags]   (alias: ws)

commands:
  create NAME                  create a workspace (see -h for its flags)
  list                         list workspaces (--state, --provisioner, --search)
  get ID                       show a workspace, its services and firewall
  stop ID                      stop a running or failed workspace (data is kept)
  start ID                     start a stopped or failed workspace
  restart ID                   restart every service of a running workspace
  restart-service ID SERVICE   restart one service: runtime, terminal, browser or canvas
  delete ID                    delete a workspace and its data (asks first unless --yes)
  timeline ID                  the steps of the last transitions, with offsets and durations
  watch [ID]                   print every change until interrupted
  open ID [SERVICE]            print a one-time link that opens a service (default runtime)
                               in a browser on its own origin; --browser opens it;
                               --port N opens the preview of port N of the runtime
  ports ID                     the ports listening in the workspace and their previews
  browser ID [--cdp-url]       the browser's live preview and DevTools URLs; --cdp-url
                               prints only the CDP WebSocket URL for a script's client
                               (it sends the token as Authorization: Bearer)
  screenshot ID -o FILE        a PNG of the browser's current tab (--tab T for another)
  port-forward ID SERVICE [LOCAL_PORT]
                               serve a service on 127.0.0.1 (with the CLI's token)
  exec ID [--cwd D] [--env K=V] [--timeout D] [--stdin] -- CMD [ARGS...]
                               run a command in the workspace; exits with its code
  shell ID [--terminal TID]    an interactive shell in the workspace's terminal

flags of every command:
  --api URL     API base URL (env AILERON_API, default ` + defaultAPI + `)
  --token T     bearer token (env AILERON_TOKEN)
  -o json       JSON output for scripts (the API's field names)

exit codes: 0 ok, 1 the API refused (stderr: "error: CODE: message"),
2 usage error, 3 API unreachable, 4 confirmation declined.
`

// runWorkspace runs `aileron workspace ...`.
func runWorkspace(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, workspaceUsage)
		return exitUsage
	}
	e := &cliEnv{stdin: stdin, stdout: stdout, stderr: stderr}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "create":
		return e.create(ctx, rest)
	case "list", "ls":
		return e.list(ctx, rest)
	case "get", "show":
		return e.get(ctx, rest)
	case "stop", "start", "restart":
		return e.lifecycle(ctx, cmd, rest)
	case "restart-service":
		return e.restartService(ctx, rest)
	case "delete", "rm":
		return e.delete(ctx, rest)
	case "timeline":
		return e.timeline(ctx, rest)
	case "watch":
		return e.watch(ctx, rest)
	case "open":
		return e.open(ctx, rest)
	case "ports":
		return e.ports(ctx, rest)
	case "browser":
		return e.browser(ctx, rest)
	case "screenshot":
		return e.screenshot(ctx, rest)
	case "port-forward":
		return e.portForward(ctx, rest)
	case "exec":
		return e.exec(ctx, rest)
	case "shell":
		return e.shell(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, workspaceUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "error: USAGE: unknown workspace command %q\n\n%s", cmd, workspaceUsage)
	return exitUsage
}

// flags starts the flag set of a subcommand; args describes its positional
// arguments for the usage line.
func (e *cliEnv) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("aileron "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	e.usageLine = strings.TrimSpace("usage: aileron " + name + " " + args + " [flags]")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "%s\n\nflags:\n", e.usageLine)
		fs.PrintDefaults()
	}
	e.commonFlags(fs)
	return fs
}

// waitFlags adds --wait and --timeout to a command that changes state.
func waitFlags(fs *flag.FlagSet) (*bool, *time.Duration) {
	return fs.Bool("wait", false, "wait until the workspace leaves the transitional state (fails if it ends failed)"),
		fs.Duration("timeout", 10*time.Minute, "how long --wait waits")
}

func (e *cliEnv) create(ctx context.Context, args []string) int {
	fs := e.flags("workspace create", "NAME")
	req := &workspacev1.CreateWorkspaceRequest{}
	fs.StringVar(&req.Provisioner, "provisioner", string(workspace.ProvisionerDocker), "docker or kubernetes")
	fs.BoolVar(&req.CanvasEnabled, "canvas", false, "run the optional canvas service")
	g := addFirewallFlags(fs)
	wait, timeout := waitFlags(fs)
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	req.Name = pos[0]
	set := visited(fs)
	if set["workspace-network-access"] {
		req.WorkspaceFirewallNetworkAccessEnabled = &g.wsNet
	}
	if set["browser-network-access"] {
		req.BrowserFirewallNetworkAccessEnabled = &g.brNet
	}
	req.WorkspaceFirewallDomainAccessMode, req.BrowserFirewallDomainAccessMode = g.wsMode, g.brMode
	req.WorkspaceFirewallAllowedDomains, req.BrowserFirewallAllowedDomains = splitList(g.wsDomains), splitList(g.brDomains)
	w, err := e.client.create(ctx, req)
	if err != nil {
		return e.fail(err)
	}
	if *wait {
		if w, err = e.wait(ctx, w.Id, *timeout); err != nil {
			return e.fail(err)
		}
	}
	if e.output == "json" {
		return e.printJSON(w)
	}
	fmt.Fprintf(e.stdout, "created workspace %s (%s): %s\n", w.Name, w.Id, w.State)
	return exitOK
}

func (e *cliEnv) list(ctx context.Context, args []string) int {
	fs := e.flags("workspace list", "")
	state := fs.String("state", "", "only workspaces in this state")
	prov := fs.String("provisioner", "", "only workspaces of this provisioner")
	search := fs.String("search", "", "only names containing this (case-insensitive)")
	if _, code, ok := e.parse(fs, args, 0, 0); !ok {
		return code
	}
	ws, err := e.client.list(ctx, *state, *prov, *search)
	if err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		return e.printJSON(&workspacev1.ListWorkspacesResponse{Workspaces: ws})
	}
	if len(ws) == 0 {
		fmt.Fprintln(e.stdout, "no workspaces")
		return exitOK
	}
	table(e.stdout, workspaceHeader, workspaceRows(ws))
	return exitOK
}

func (e *cliEnv) get(ctx context.Context, args []string) int {
	fs := e.flags("workspace get", "ID")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	w, err := e.client.get(ctx, pos[0])
	if err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		return e.printJSON(w)
	}
	printWorkspace(e.stdout, w)
	return exitOK
}

func (e *cliEnv) lifecycle(ctx context.Context, verb string, args []string) int {
	fs := e.flags("workspace "+verb, "ID")
	wait, timeout := waitFlags(fs)
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	w, err := e.client.command(ctx, pos[0], verb)
	if err == nil && *wait {
		w, err = e.wait(ctx, w.Id, *timeout)
	}
	if err != nil {
		return e.fail(err)
	}
	return e.accepted(verb, w)
}

func (e *cliEnv) restartService(ctx context.Context, args []string) int {
	fs := e.flags("workspace restart-service", "ID SERVICE")
	pos, code, ok := e.parse(fs, args, 2, 2)
	if !ok {
		return code
	}
	w, err := e.client.restartService(ctx, pos[0], pos[1])
	if err != nil {
		return e.fail(err)
	}
	return e.accepted("restart of "+pos[1], w)
}

// open prints (and with --browser opens) a service's one-time link.
func (e *cliEnv) open(ctx context.Context, args []string) int {
	fs := e.flags("workspace open", "ID [SERVICE]")
	browser := fs.Bool("browser", false, "open the link with xdg-open (or open on macOS)")
	port := fs.Uint("port", 0, "open the preview of this port listening in the runtime (1-65535) instead of the service")
	pos, code, ok := e.parse(fs, args, 1, 2)
	if !ok {
		return code
	}
	svc := string(workspace.ServiceRuntime)
	if len(pos) == 2 {
		svc = pos[1]
	}
	if *port > 65535 {
		return e.usageError(fs, fmt.Sprintf("--port %d: want 1-65535", *port))
	}
	r, err := e.client.open(ctx, pos[0], svc, uint32(*port))
	if err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		return e.printJSON(r)
	}
	fmt.Fprintln(e.stdout, r.Url)
	if *browser {
		if err := openBrowser(r.Url); err != nil {
			fmt.Fprintf(e.stderr, "error: BROWSER: %v (open the link above yourself)\n", err)
			return exitAPI
		}
	}
	return exitOK
}

func (e *cliEnv) accepted(what string, w *workspacev1.Workspace) int {
	if e.output == "json" {
		return e.printJSON(w)
	}
	fmt.Fprintf(e.stdout, "%s accepted: workspace %s (%s) is %s\n", what, w.Name, w.Id, w.State)
	return exitOK
}

func (e *cliEnv) delete(ctx context.Context, args []string) int {
	fs := e.flags("workspace delete", "ID")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	fs.BoolVar(yes, "y", false, "short for --yes")
	wait, timeout := waitFlags(fs)
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	id := pos[0]
	if !*yes {
		w, err := e.client.get(ctx, id)
		if err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stderr, "Delete workspace %s (%s) and all its data? This cannot be undone. [y/N] ", w.Name, w.Id)
		answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Fprintln(e.stderr, "aborted: nothing was deleted")
			return exitAborted
		}
	}
	w, err := e.client.delete(ctx, id)
	if err != nil {
		return e.fail(err)
	}
	if *wait {
		if err := e.waitGone(ctx, id, *timeout); err != nil {
			return e.fail(err)
		}
		if e.output != "json" {
			fmt.Fprintf(e.stdout, "workspace %s (%s) deleted\n", w.Name, w.Id)
			return exitOK
		}
	}
	return e.accepted("delete", w)
}

func (e *cliEnv) watch(ctx context.Context, args []string) int {
	fs := e.flags("workspace watch", "[ID]")
	pos, code, ok := e.parse(fs, args, 0, 1)
	if !ok {
		return code
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	tw := newLineTable(e.stdout, "TIME", "TYPE", "ID", "NAME", "STATE", "REASON")
	err := e.client.watch(ctx, id, func(ev *workspacev1.WatchWorkspacesResponse) bool {
		if e.output == "json" {
			e.printJSONLine(ev)
			return true
		}
		w := ev.Workspace
		tw.row(time.Now().Format("15:04:05"), ev.Type, w.GetId(), w.GetName(), w.GetState(), w.GetStateReason())
		return true
	})
	if errors.Is(err, context.Canceled) || (err == nil && ctx.Err() != nil) {
		return exitOK // interrupted: the normal end of a watch
	}
	return e.fail(err)
}

// wait follows a workspace until it is no longer in a transitional state; a
// workspace that ends failed is an error carrying its error code.
func (e *cliEnv) wait(ctx context.Context, id string, timeout time.Duration) (*workspacev1.Workspace, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *workspacev1.Workspace
	err := e.client.watch(ctx, id, func(ev *workspacev1.WatchWorkspacesResponse) bool {
		last = ev.Workspace
		return ev.Type != orchestrator.ChangeDeleted && workspace.State(last.GetState()).Transitional()
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return nil, &apiError{Code: errcode.WaitTimeout, Message: fmt.Sprintf("workspace %s is still %s after %s", id, last.GetState(), timeout)}
	case err != nil:
		return nil, err
	case workspace.State(last.GetState()) == workspace.StateFailed:
		return last, &apiError{Code: or(errcode.Code(last.ErrorCode), errcode.WorkspaceFailed), Message: "workspace " + id + " failed: " + last.StateReason}
	}
	return last, nil
}

// waitGone follows a workspace until the API reports it deleted.
func (e *cliEnv) waitGone(ctx context.Context, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := e.client.watch(ctx, id, func(ev *workspacev1.WatchWorkspacesResponse) bool { return ev.Type != orchestrator.ChangeDeleted })
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == errcode.WorkspaceNotFound {
		return nil // gone before the watch started
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{Code: errcode.WaitTimeout, Message: fmt.Sprintf("workspace %s is not deleted after %s", id, timeout)}
	}
	return err
}

// lineTable prints rows as they come, in columns wide enough for the header.
type lineTable struct {
	w      io.Writer
	widths []int
	header []string
	shown  bool
}

func newLineTable(w io.Writer, header ...string) *lineTable {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = max(len(h), []int{8, 8, 20, 16, 10, 0}[i%6])
	}
	return &lineTable{w: w, widths: widths, header: header}
}

func (t *lineTable) row(cells ...string) {
	if !t.shown {
		t.shown = true
		t.print(t.header)
	}
	t.print(cells)
}

func (t *lineTable) print(cells []string) {
	var b strings.Builder
	for i, c := range cells {
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		fmt.Fprintf(&b, "%-*s  ", t.widths[i], c)
	}
	fmt.Fprintln(t.w, strings.TrimRight(b.String(), " "))
}

// visited reports which flags were given on the command line.
func visited(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// splitList splits a comma-separated flag value; "" is the empty list.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
