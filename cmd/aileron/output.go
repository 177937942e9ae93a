package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/firewall/policy"
)

// Exit codes of the CLI commands, so scripts can tell failures apart.
const (
	exitOK          = 0
	exitAPI         = 1 // the API refused the request; stderr has its code
	exitUsage       = 2 // bad command line
	exitUnavailable = 3 // the API could not be reached
	exitAborted     = 4 // the user declined a confirmation
)

// cliEnv is what every client subcommand shares: where the API is, how to
// print, and the standard streams.
type cliEnv struct {
	api, token, output string
	usageLine          string
	stdin              io.Reader
	stdout, stderr     io.Writer
	client             *client
}

// commonFlags registers --api, --token and -o on fs.
func (e *cliEnv) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.api, "api", cmp.Or(os.Getenv("AILERON_API"), defaultAPI), "API base URL (env AILERON_API)")
	fs.StringVar(&e.token, "token", os.Getenv("AILERON_TOKEN"), "bearer token: OIDC or API token (env AILERON_TOKEN)")
	fs.StringVar(&e.output, "o", "table", `output: "table" or "json"`)
	fs.StringVar(&e.output, "output", "table", `output: "table" or "json"`)
}

// parse parses flags placed anywhere among the positional arguments, checks
// their count and the common flags, and builds the client.
func (e *cliEnv) parse(fs *flag.FlagSet, args []string, min, max int) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false // flag already printed the error and usage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	switch {
	case len(pos) < min || len(pos) > max:
		return nil, e.usageError(fs, fmt.Sprintf("expected %s, got %d", argCount(min, max), len(pos))), false
	case e.output != "table" && e.output != "json":
		return nil, e.usageError(fs, fmt.Sprintf("-o %q: must be table or json", e.output)), false
	}
	c, err := newClient(e.api, e.token)
	if err != nil {
		return nil, e.usageError(fs, err.Error()), false
	}
	e.client = c
	return pos, exitOK, true
}

func argCount(min, max int) string {
	switch {
	case min == max && min == 0:
		return "no arguments"
	case min == max:
		return fmt.Sprintf("%d argument(s)", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

func (e *cliEnv) usageError(fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(e.stderr, "error: USAGE: %s\n%s\nrun \"%s -h\" for the flags\n", msg, e.usageLine, fs.Name())
	return exitUsage
}

// fail prints err as "error: CODE: message" and returns its exit code.
func (e *cliEnv) fail(err error) int {
	var ae *apiError
	var ce *connError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(e.stderr, "error: %s: %s\n", ae.Code, ae.Message)
		return exitAPI
	case errors.As(err, &ce):
		fmt.Fprintf(e.stderr, "error: %s\n", ce.Error())
		return exitUnavailable
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(e.stderr, "error: CANCELED: interrupted")
		return exitAPI
	}
	fmt.Fprintf(e.stderr, "error: INTERNAL: %v\n", err)
	return exitAPI
}

// printJSON writes a message as indented JSON with the API's field names.
func (e *cliEnv) printJSON(m proto.Message) int {
	data, err := printJSONOpts.Marshal(m)
	if err != nil {
		return e.fail(err)
	}
	var buf bytes.Buffer
	// protojson's spacing is deliberately unstable; re-indent for a stable output.
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return e.fail(err)
	}
	buf.WriteByte('\n')
	_, _ = e.stdout.Write(buf.Bytes())
	return exitOK
}

// printValue writes v (a plain Go value, not a message) as indented JSON.
func (e *cliEnv) printValue(v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// printJSONLine writes a message as one compact JSON line (for streams).
func (e *cliEnv) printJSONLine(m proto.Message) {
	data, _ := printJSONOpts.Marshal(m)
	var buf bytes.Buffer
	_ = json.Compact(&buf, data)
	buf.WriteByte('\n')
	_, _ = e.stdout.Write(buf.Bytes())
}

// table writes rows under a header, aligned in columns.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

func workspaceRows(ws []*workspacev1.Workspace) [][]string {
	rows := make([][]string, 0, len(ws))
	for _, w := range ws {
		rows = append(rows, []string{w.Id, w.Name, w.State, w.Provisioner, servicesSummary(w),
			or(w.GetFirewallStatus().GetPhase(), "-"), age(w.CreateTime)})
	}
	return rows
}

var workspaceHeader = []string{"ID", "NAME", "STATE", "PROVISIONER", "SERVICES", "FIREWALL", "AGE"}

// services lists a workspace's services in display order with their names.
func services(w *workspacev1.Workspace) []struct {
	name string
	s    *workspacev1.ServiceStatus
} {
	s := w.GetServices()
	return []struct {
		name string
		s    *workspacev1.ServiceStatus
	}{{string(workspace.ServiceRuntime), s.GetRuntime()}, {string(workspace.ServiceTerminal), s.GetTerminal()},
		{string(workspace.ServiceBrowser), s.GetBrowser()}, {string(workspace.ServiceCanvas), s.GetCanvas()}}
}

func servicesSummary(w *workspacev1.Workspace) string {
	up, n := 0, 0
	for _, s := range services(w) {
		if s.s.GetEnabled() {
			n++
			if workspace.ServiceState(s.s.GetState()) == workspace.ServiceRunning {
				up++
			}
		}
	}
	return fmt.Sprintf("%d/%d running", up, n)
}

// printWorkspace writes the detail view of one workspace.
func printWorkspace(out io.Writer, w *workspacev1.Workspace) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	state := w.State
	if w.StateReason != "" {
		state += " (" + w.StateReason + ")"
	}
	kv := [][2]string{
		{"ID", w.Id}, {"Name", w.Name}, {"Owner", w.Owner}, {"Provisioner", w.Provisioner}, {"State", state},
	}
	if w.ErrorCode != "" {
		kv = append(kv, [2]string{"Error code", w.ErrorCode})
	}
	if w.StateDeadlineTime != nil && workspace.State(w.State).Transitional() {
		kv = append(kv, [2]string{"Deadline", stamp(w.StateDeadlineTime)})
	}
	kv = append(kv,
		[2]string{"Desired state", w.DesiredState},
		[2]string{"Generation", fmt.Sprintf("%d (observed %d)", w.Generation, w.ObservedGeneration)},
		[2]string{"Created", stamp(w.CreateTime)},
		[2]string{"Updated", stamp(w.UpdateTime)})
	for _, p := range kv {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], p[1])
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
	var rows [][]string
	for _, s := range services(w) {
		state := s.s.GetState()
		if !s.s.GetEnabled() {
			state = string(workspace.ServiceDisabled)
		}
		rows = append(rows, []string{s.name, or(state, string(workspace.ServicePending)), or(s.s.GetEndpoint(), "-"),
			or(stamp(s.s.GetLastRestartTime()), "-"), or(s.s.GetMessage(), "")})
	}
	table(out, []string{"SERVICE", "STATE", "ENDPOINT", "LAST RESTART", "MESSAGE"}, rows)
	fmt.Fprintln(out)
	printFirewall(out, orchestrator.Firewall(w))
}

// printFirewall writes the settings and status of a firewall.
func printFirewall(out io.Writer, fw *workspacev1.Firewall) {
	st := fw.GetStatus()
	line := fmt.Sprintf("Firewall: %s (revision %d, enforced %d)", or(st.GetPhase(), string(workspace.FirewallUnavailable)), fw.Revision, st.GetObservedRevision())
	if st.GetMessage() != "" {
		line += ": " + st.GetMessage()
	}
	if st.GetErrorCode() != "" {
		line += " [" + st.GetErrorCode() + "]"
	}
	fmt.Fprintln(out, line)
	table(out, []string{"GROUP", "NETWORK", "MODE", "ALLOWED DOMAINS", "EFFECTIVE ALLOWED DOMAINS"}, [][]string{
		{string(policy.GroupWorkspace), onOff(fw.WorkspaceFirewallNetworkAccessEnabled), fw.WorkspaceFirewallDomainAccessMode,
			list(fw.WorkspaceFirewallAllowedDomains), list(st.GetWorkspaceEffectiveAllowedDomains())},
		{string(policy.GroupBrowser), onOff(fw.BrowserFirewallNetworkAccessEnabled), fw.BrowserFirewallDomainAccessMode,
			list(fw.BrowserFirewallAllowedDomains), list(st.GetBrowserEffectiveAllowedDomains())},
	})
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

// or returns s, or def when s is empty.
func or[T ~string](s, def T) T {
	if s == "" {
		return def
	}
	return s
}

// stamp formats a timestamp in UTC, "" when unset.
func stamp(ts *timestamppb.Timestamp) string {
	if ts == nil || ts.AsTime().Unix() <= 0 {
		return ""
	}
	if time.Until(ts.AsTime()) > time.Second {
		return ts.AsTime().UTC().Format(time.RFC3339) + " (in " + short(time.Until(ts.AsTime())) + ")"
	}
	return ts.AsTime().UTC().Format(time.RFC3339) + " (" + age(ts) + " ago)"
}

// age is a short duration since ts: 45s, 12m, 3h, 9d.
func age(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return short(time.Since(ts.AsTime()))
}

func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
