package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
)

// row selects the list row of a workspace by name.
func row(name string) string { return fmt.Sprintf(`tr[data-name=%q]`, name) }

// TestConsole drives the console in headless Chromium against a real api
// service: create → appears and changes state live → restart a service →
// firewall edit (bad domain, good domain, revision conflict) → stop → delete.
func TestConsole(t *testing.T) {
	start := time.Now()
	env := startConsole(t)
	ctx := browser(t)
	do := steps(t, ctx)

	// Neighbours for a realistic list: one running on Kubernetes, one failed.
	research := create(t, env, &workspacev1.CreateWorkspaceRequest{Name: "research-agent", Provisioner: "kubernetes", CanvasEnabled: true})
	report(t, env, research.Id, "running", "all services are ready", runningServices(research.Id, true))
	evals := create(t, env, &workspacev1.CreateWorkspaceRequest{Name: "nightly-evals"})
	report(t, env, evals.Id, "failed", "runtime image aileron/workspace-runtime:dev could not be pulled", nil)

	do("open the list", chromedp.Navigate(env.URL+"/"), visible(row("research-agent")),
		waitJS(`document.querySelector('#connection').dataset.state === 'live'`))

	// Create, first with an invalid name: the API's error shows next to the field.
	do("open the create form", chromedp.Click(chromedp.CSS(`#new-workspace`)), visible(`#create-form`))
	do("submit a bad name",
		chromedp.SendKeys(chromedp.CSS(`#c-name`), "Demo Workspace"),
		chromedp.SendKeys(chromedp.CSS(`#c-workspace_firewall_allowed_domains`), "example.org"),
		chromedp.Click(chromedp.CSS(`#create-submit`)),
		visible(`#c-name-error`))
	require.Contains(t, text(t, ctx, `#c-name-error`), "WORKSPACE_NAME_INVALID: name \"Demo Workspace\" must be")
	require.Equal(t, "true", eval[string](t, ctx, `document.querySelector('#c-name').getAttribute('aria-invalid')`))
	require.Contains(t, eval[string](t, ctx, `document.querySelector('#c-name').getAttribute('aria-describedby')`), "c-name-error")
	screenshot(t, ctx, "create-form-error.png")

	do("submit a good name",
		setValue(`#c-name`, ""),
		chromedp.SendKeys(chromedp.CSS(`#c-name`), "demo-workspace"),
		chromedp.Click(chromedp.CSS(`#c-canvas`)),
		chromedp.Click(chromedp.CSS(`#create-submit`)),
		waitJS(`location.pathname.startsWith('/workspaces/')`),
		visible(`#ws-state[data-state="creating"]`))
	id := strings.TrimPrefix(eval[string](t, ctx, `location.pathname`), "/workspaces/")
	w := workspace(t, env, id)
	require.Equal(t, "demo-workspace", w.Name)
	require.True(t, w.Services.Canvas.Enabled)
	require.Equal(t, []string{"example.org"}, w.WorkspaceFirewallAllowedDomains)
	require.True(t, disabled(t, ctx, `#action-stop`), "stop is not allowed while creating")
	require.False(t, disabled(t, ctx, `#action-delete`), "delete is always allowed")

	// It appears in the list, and the provisioner's report changes its state live.
	do("back to the list", chromedp.Click(chromedp.CSS(`.crumbs a[href="/"]`)),
		visible(row("demo-workspace")+` [data-state="creating"]`))
	report(t, env, id, "running", "all services are ready", runningServices(id, true))
	do("state changes without a reload", visible(row("demo-workspace")+` [data-state="running"]`))
	screenshot(t, ctx, "list.png")

	// Search by name and filter by state.
	do("search", chromedp.SendKeys(chromedp.CSS(`#search`), "demo"),
		waitJS(`document.querySelectorAll('#workspace-list tbody tr').length === 1`))
	do("filter by failed", setValue(`#search`, ""),
		setValue(`#state-filter`, "failed"),
		waitJS(`document.querySelectorAll('#workspace-list tbody tr').length === 1 && !!document.querySelector('tr[data-name="nightly-evals"]')`))
	require.Contains(t, eval[string](t, ctx, `location.search`), "state=failed")
	do("clear the filter", setValue(`#state-filter`, ""),
		waitJS(`document.querySelectorAll('#workspace-list tbody tr').length === 3`))

	// The workspace page: restart one service.
	do("open the workspace", chromedp.Click(chromedp.CSS(row("demo-workspace")+` a.ws-name`)),
		visible(`#ws-state[data-state="running"]`), visible(`[data-service-state="runtime"][data-state="running"]`))
	require.False(t, disabled(t, ctx, `#action-stop`))
	require.True(t, disabled(t, ctx, `#action-start`), "start is not allowed while running")
	do("restart the runtime", chromedp.Click(chromedp.CSS(`#restart-runtime`)),
		visible(`[data-service-state="runtime"][data-state="restarting"]`))
	require.Equal(t, "running", text(t, ctx, `[data-service-state="terminal"]`), "the other services keep running")
	w = workspace(t, env, id)
	require.NotNil(t, w.Operations.RestartRuntimeTime)
	report(t, env, id, "running", "runtime restarted", runningServices(id, true))
	do("runtime runs again", visible(`[data-service-state="runtime"][data-state="running"]`))

	// Firewall: a bad domain is refused next to the field, a good one applies.
	const domains = `#fw-workspace_firewall_allowed_domains`
	do("enter a bad domain", setValue(domains, ""),
		chromedp.SendKeys(chromedp.CSS(domains), "example.org\nhttps://bad.example.com/path"),
		chromedp.Click(chromedp.CSS(`#firewall-apply`)), visible(domains+`-error`))
	require.Contains(t, text(t, ctx, domains+`-error`), "https://bad.example.com/path")
	require.Contains(t, text(t, ctx, domains+`-error`), "FIREWALL_")
	do("enter a good domain", setValue(domains, ""),
		chromedp.SendKeys(chromedp.CSS(domains), "example.org\napi.example.com"),
		chromedp.Click(chromedp.CSS(`#firewall-apply`)),
		waitJS(`!document.querySelector('`+domains+`-error')`),
		visible(`[data-effective="workspace"] li`),
		waitJS(`[...document.querySelectorAll('[data-effective="workspace"] li')].some(li => li.textContent === 'api.example.com')`))
	require.Equal(t, []string{"api.example.com", "example.org"}, workspace(t, env, id).WorkspaceFirewallAllowedDomains, "normalised and sorted")
	firewallApplied(t, env, id)
	do("the enforcer's applied shows", visible(`#firewall-phase[data-state="applied"]`))
	screenshot(t, ctx, "workspace.png")

	// A stale revision: someone else changes the firewall while we edit.
	do("edit the browser group", chromedp.SendKeys(chromedp.CSS(`#fw-browser_firewall_allowed_domains`), "docs.example.com"))
	fw := workspace(t, env, id)
	_, err := env.Client.UpdateFirewall(context.Background(), &workspacev1.UpdateFirewallRequest{
		Id: id, Revision: fw.FirewallStatus.Revision,
		WorkspaceFirewallNetworkAccessEnabled: true, WorkspaceFirewallDomainAccessMode: "allowlist",
		WorkspaceFirewallAllowedDomains: []string{"example.org"}, BrowserFirewallNetworkAccessEnabled: true,
		BrowserFirewallDomainAccessMode: "deny",
	})
	require.NoError(t, err)
	do("apply the stale edit", chromedp.Click(chromedp.CSS(`#firewall-apply`)), visible(`#firewall-conflict`))
	require.Contains(t, text(t, ctx, `#firewall-conflict`), "FIREWALL_REVISION_CONFLICT")
	require.Contains(t, text(t, ctx, `#firewall-conflict`), "Someone else changed the firewall")
	require.Equal(t, "deny", eval[string](t, ctx, `document.querySelector('#fw-browser_firewall_domain_access_mode').value`), "the editor reloaded")
	require.Equal(t, "example.org", eval[string](t, ctx, `document.querySelector('`+domains+`').value`))

	// Stop: the buttons follow the state.
	do("stop", chromedp.Click(chromedp.CSS(`#action-stop`)), visible(`#ws-state[data-state="stopping"]`))
	require.True(t, disabled(t, ctx, `#action-stop`))
	require.True(t, disabled(t, ctx, `#restart-runtime`), "service restart needs running")
	report(t, env, id, "stopped", "stopped; the volume is kept", nil)
	do("stopped", visible(`#ws-state[data-state="stopped"]`), waitJS(`!document.querySelector('#action-start').disabled`))
	require.True(t, disabled(t, ctx, `#action-restart`))

	// Delete asks for the name.
	do("open the delete dialog", chromedp.Click(chromedp.CSS(`#action-delete`)), visible(`#delete-dialog`))
	do("a wrong name", chromedp.SendKeys(chromedp.CSS(`#delete-confirm-name`), "demo"))
	require.True(t, disabled(t, ctx, `#delete-confirm`))
	do("the right name", chromedp.SendKeys(chromedp.CSS(`#delete-confirm-name`), "-workspace"),
		waitJS(`!document.querySelector('#delete-confirm').disabled`),
		chromedp.Click(chromedp.CSS(`#delete-confirm`)),
		waitJS(`location.pathname === '/'`),
		visible(row("demo-workspace")+` [data-state="deleting"]`))
	report(t, env, id, "deleted", "every resource removed", nil)
	do("it disappears", waitJS(`!document.querySelector('`+row("demo-workspace")+`')`), visible(row("research-agent")))
	t.Logf("console flow took %s", time.Since(start).Round(time.Millisecond))
}

// TestConsoleNarrow checks the console at a phone's width: no horizontal
// scrolling, and the actions stay reachable.
func TestConsoleNarrow(t *testing.T) {
	env := startConsole(t)
	ctx := browser(t)
	w := create(t, env, &workspacev1.CreateWorkspaceRequest{Name: "mobile-check", CanvasEnabled: true,
		WorkspaceFirewallAllowedDomains: []string{"example.org"}})
	report(t, env, w.Id, "running", "all services are ready", runningServices(w.Id, true))
	do := steps(t, ctx)
	noOverflow := `document.documentElement.scrollWidth <= window.innerWidth`
	do("list", chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(env.URL+"/"), visible(row("mobile-check")+` [data-state="running"]`), waitJS(noOverflow))
	do("workspace", chromedp.Navigate(env.URL+"/workspaces/"+w.Id),
		visible(`#ws-state[data-state="running"]`), visible(`#action-stop`), visible(`#restart-runtime`), waitJS(noOverflow))
	screenshot(t, ctx, "workspace-narrow.png")
	do("create form", chromedp.Navigate(env.URL+"/new"), visible(`#create-form`), waitJS(noOverflow))
	do("unknown workspace", chromedp.Navigate(env.URL+"/workspaces/aaaaaaaaaaaaaaaaaaaa"),
		waitJS(`document.querySelector('main').textContent.includes('WORKSPACE_NOT_FOUND')`))
}

// TestConsoleSignIn checks that a secured API makes the console ask for a
// bearer token, and that the token then authenticates every call.
func TestConsoleSignIn(t *testing.T) {
	env := startConsole(t, "s3cret-token")
	ctx := browser(t)
	do := steps(t, ctx)
	do("open the list", chromedp.Navigate(env.URL+"/"), visible(`#signin-dialog`))
	require.Contains(t, text(t, ctx, `#signin-dialog`), "AUTH_TOKEN_MISSING")
	do("sign in", chromedp.SendKeys(chromedp.CSS(`#token-input`), "s3cret-token"),
		chromedp.Click(chromedp.CSS(`#signin-dialog button[type="submit"]`)),
		visible(`#signout`), waitJS(`document.querySelector('main').textContent.includes('No workspaces yet')`),
		waitJS(`document.querySelector('#connection').dataset.state === 'live'`))
	do("sign out", chromedp.Click(chromedp.CSS(`#signout`)), visible(`#signin-dialog`))
}
