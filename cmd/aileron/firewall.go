package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
)

const firewallUsage = `usage: aileron firewall <command> [flags]

commands:
  get ID    show the firewall settings, effective allowed domains and status
  set ID    change settings; unset flags keep their current value:
              --workspace-network-access=true|false  --browser-network-access=true|false
              --workspace-mode allowlist|deny|unrestricted  --browser-mode ...
              --workspace-domains a.com,*.b.org      --browser-domains ...  ("" clears)
            the update carries the revision just read, or --revision N
            (a stale revision answers FIREWALL_REVISION_CONFLICT)

flags of every command: --api URL, --token T, -o json (see "aileron workspace -h")
`

// runFirewall runs `aileron firewall ...`.
func runFirewall(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, firewallUsage)
		return exitUsage
	}
	e := &cliEnv{stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "get", "show":
		return e.firewallGet(ctx, args[1:])
	case "set", "update":
		return e.firewallSet(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, firewallUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "error: USAGE: unknown firewall command %q\n\n%s", args[0], firewallUsage)
	return exitUsage
}

// firewallFlags are the six settings as flags.
type firewallFlags struct {
	wsNet, brNet                         bool
	wsMode, brMode, wsDomains, brDomains string
}

func addFirewallFlags(fs interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
}) *firewallFlags {
	g := &firewallFlags{}
	fs.BoolVar(&g.wsNet, "workspace-network-access", true, "workspace group: allow any egress (workspace_firewall_network_access_enabled)")
	fs.StringVar(&g.wsMode, "workspace-mode", "", "workspace group: allowlist, deny or unrestricted (workspace_firewall_domain_access_mode)")
	fs.StringVar(&g.wsDomains, "workspace-domains", "", "workspace group: comma-separated extra allowed domains (workspace_firewall_allowed_domains)")
	fs.BoolVar(&g.brNet, "browser-network-access", true, "browser group: allow any egress (browser_firewall_network_access_enabled)")
	fs.StringVar(&g.brMode, "browser-mode", "", "browser group: allowlist, deny or unrestricted (browser_firewall_domain_access_mode)")
	fs.StringVar(&g.brDomains, "browser-domains", "", "browser group: comma-separated extra allowed domains (browser_firewall_allowed_domains)")
	return g
}

// apply overrides the settings of req whose flag was given.
func (g *firewallFlags) apply(req *workspacev1.UpdateFirewallRequest, set map[string]bool) {
	if set["workspace-network-access"] {
		req.WorkspaceFirewallNetworkAccessEnabled = g.wsNet
	}
	if set["workspace-mode"] {
		req.WorkspaceFirewallDomainAccessMode = g.wsMode
	}
	if set["workspace-domains"] {
		req.WorkspaceFirewallAllowedDomains = splitList(g.wsDomains)
	}
	if set["browser-network-access"] {
		req.BrowserFirewallNetworkAccessEnabled = g.brNet
	}
	if set["browser-mode"] {
		req.BrowserFirewallDomainAccessMode = g.brMode
	}
	if set["browser-domains"] {
		req.BrowserFirewallAllowedDomains = splitList(g.brDomains)
	}
}

func (e *cliEnv) firewallGet(ctx context.Context, args []string) int {
	fs := e.flags("firewall get", "ID")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	fw, err := e.client.firewall(ctx, pos[0])
	if err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		return e.printJSON(fw)
	}
	printFirewall(e.stdout, fw)
	return exitOK
}

func (e *cliEnv) firewallSet(ctx context.Context, args []string) int {
	fs := e.flags("firewall set", "ID")
	g := addFirewallFlags(fs)
	rev := fs.String("revision", "", "the settings revision the change is based on (default: the current one)")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	set := visited(fs)
	changes := 0
	for _, f := range []string{"workspace-network-access", "workspace-mode", "workspace-domains",
		"browser-network-access", "browser-mode", "browser-domains"} {
		if set[f] {
			changes++
		}
	}
	if changes == 0 {
		return e.usageError(fs, "nothing to change: give at least one of the setting flags")
	}
	var revision uint64
	if set["revision"] {
		n, err := strconv.ParseUint(*rev, 10, 64)
		if err != nil {
			return e.usageError(fs, fmt.Sprintf("--revision %q must be a number", *rev))
		}
		revision = n
	}
	// An update replaces all six settings: unless every one is given with a
	// revision, start from the current ones so unset flags keep their value,
	// and send the revision read unless --revision names one.
	req := &workspacev1.UpdateFirewallRequest{Id: pos[0]}
	if !set["revision"] || changes < 6 {
		cur, err := e.client.firewall(ctx, pos[0])
		if err != nil {
			return e.fail(err)
		}
		req.Revision = cur.Revision
		req.WorkspaceFirewallNetworkAccessEnabled = cur.WorkspaceFirewallNetworkAccessEnabled
		req.WorkspaceFirewallDomainAccessMode = cur.WorkspaceFirewallDomainAccessMode
		req.WorkspaceFirewallAllowedDomains = cur.WorkspaceFirewallAllowedDomains
		req.BrowserFirewallNetworkAccessEnabled = cur.BrowserFirewallNetworkAccessEnabled
		req.BrowserFirewallDomainAccessMode = cur.BrowserFirewallDomainAccessMode
		req.BrowserFirewallAllowedDomains = cur.BrowserFirewallAllowedDomains
	}
	if set["revision"] {
		req.Revision = revision
	}
	g.apply(req, set)
	fw, err := e.client.updateFirewall(ctx, req)
	if err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		return e.printJSON(fw)
	}
	fmt.Fprintf(e.stdout, "firewall update accepted: revision %d, %s\n", fw.Revision, or(fw.GetStatus().GetPhase(), string(workspace.FirewallApplying)))
	printFirewall(e.stdout, fw)
	return exitOK
}
