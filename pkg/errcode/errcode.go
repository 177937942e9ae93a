// Package errcode is the catalogue of the stable error codes Aileron returns:
// the `code` of an API error body (the `reason` of a gRPC ErrorInfo), the
// `error_code` of a failed workspace or firewall status, and the codes the CLI
// prints. docs/api.md documents each of them; a test keeps the two in step.
package errcode

import "strings"

// Code is a stable, machine-readable error code. Its value is the wire string.
type Code string

// Request errors (400).
const (
	// RequestInvalid: the gateway could not decode the request (malformed
	// JSON, unknown field, wrong type, bad path or query value) or its body
	// could not be read.
	RequestInvalid Code = "REQUEST_INVALID"
	// RequestEncodingInvalid: a string of the request (path, query, body,
	// message field) is not valid UTF-8, or a header or metadata value is not
	// printable ASCII; the field names where.
	RequestEncodingInvalid Code = "REQUEST_ENCODING_INVALID"
	// WorkspaceNameInvalid: a workspace name is not a DNS label.
	WorkspaceNameInvalid Code = "WORKSPACE_NAME_INVALID"
	// WorkspaceIDInvalid: a workspace id is not 20 characters a-z, 2-7.
	WorkspaceIDInvalid Code = "WORKSPACE_ID_INVALID"
	// WorkspaceProvisionerInvalid: the provisioner is neither docker nor kubernetes.
	WorkspaceProvisionerInvalid Code = "WORKSPACE_PROVISIONER_INVALID"
	// WorkspaceProvisionerNotEnabled: the provisioner is valid but not enabled on this server.
	WorkspaceProvisionerNotEnabled Code = "WORKSPACE_PROVISIONER_NOT_ENABLED"
	// WorkspaceServiceInvalid: a service name is not runtime, terminal, browser or canvas.
	WorkspaceServiceInvalid Code = "WORKSPACE_SERVICE_INVALID"
	// WorkspaceStateInvalid: a state filter names no lifecycle state.
	WorkspaceStateInvalid Code = "WORKSPACE_STATE_INVALID"
	// PageSizeInvalid: a list page size is outside 1-100.
	PageSizeInvalid Code = "PAGE_SIZE_INVALID"
	// PageTokenInvalid: a list page token was not issued by this server.
	PageTokenInvalid Code = "PAGE_TOKEN_INVALID"
	// SearchInvalid: a list search string is too long or malformed.
	SearchInvalid Code = "SEARCH_INVALID"
	// FirewallDomainInvalid: an allowed-domain entry is not a valid host name or pattern.
	FirewallDomainInvalid Code = "FIREWALL_DOMAIN_INVALID"
	// FirewallDomainsTooMany: a domain list has too many entries or bytes.
	FirewallDomainsTooMany Code = "FIREWALL_DOMAINS_TOO_MANY"
	// FirewallModeInvalid: a domain access mode is not allowlist, deny or unrestricted.
	FirewallModeInvalid Code = "FIREWALL_MODE_INVALID"
)

// Authentication and authorisation errors (401, 403).
const (
	// Unauthenticated: the gateway refused a request without credentials
	// before the server saw it.
	Unauthenticated Code = "UNAUTHENTICATED"
	// AuthTokenMissing: no Authorization: Bearer header.
	AuthTokenMissing Code = "AUTH_TOKEN_MISSING"
	// AuthTokenInvalid: the bearer token is malformed, badly signed, not yet
	// valid or lacks the subject claim.
	AuthTokenInvalid Code = "AUTH_TOKEN_INVALID"
	// AuthTokenExpired: the bearer token has expired.
	AuthTokenExpired Code = "AUTH_TOKEN_EXPIRED"
	// AuthAudienceInvalid: the bearer token is meant for another audience.
	AuthAudienceInvalid Code = "AUTH_AUDIENCE_INVALID"
	// AuthIssuerInvalid: the bearer token comes from another issuer.
	AuthIssuerInvalid Code = "AUTH_ISSUER_INVALID"
	// AuthEmailUnverified: the subject claim is an email the issuer has not
	// verified (email_verified is not true).
	AuthEmailUnverified Code = "AUTH_EMAIL_UNVERIFIED"
	// PermissionDenied: the caller may not call this method (the gateway's
	// code for a PermissionDenied status without a more specific reason).
	PermissionDenied Code = "PERMISSION_DENIED"
	// FirewallAdminOnly: the server lets only admins change firewall settings.
	FirewallAdminOnly Code = "FIREWALL_ADMIN_ONLY"
	// RequestCrossSite: a mutating call (or a WebSocket upgrade) came from
	// another site: its Sec-Fetch-Site is cross-site or same-site, or its
	// Origin is not the request's Host (403); the field names the header.
	RequestCrossSite Code = "REQUEST_CROSS_SITE"
)

// Refusals of what browsers can be tricked into sending (415, 421).
const (
	// RequestContentTypeInvalid: a mutating call's body is not
	// application/json (415); the field is Content-Type.
	RequestContentTypeInvalid Code = "REQUEST_CONTENT_TYPE_INVALID"
	// HostNotAllowed: the Host header names neither a loopback name nor one
	// of --allowed-hosts (421), e.g. a DNS-rebinding page; the field is Host.
	HostNotAllowed Code = "HOST_NOT_ALLOWED"
)

// Not found and method errors (404, 405, 501).
const (
	// WorkspaceNotFound: no workspace with that id is visible to the caller.
	WorkspaceNotFound Code = "WORKSPACE_NOT_FOUND"
	// NotFound: the gateway's code for a NotFound status without a more specific reason.
	NotFound Code = "NOT_FOUND"
	// RouteNotFound: no API route has this path.
	RouteNotFound Code = "ROUTE_NOT_FOUND"
	// MethodNotAllowed: the path exists but not with this HTTP method.
	MethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	// NotImplemented: the server does not implement the called method.
	NotImplemented Code = "NOT_IMPLEMENTED"
)

// Conflicts (409): the command does not fit the workspace as it is now.
const (
	// WorkspaceNameConflict: another workspace of the owner has the name.
	WorkspaceNameConflict Code = "WORKSPACE_NAME_CONFLICT"
	// WorkspaceStopNotAllowed: stop from a state it is not allowed from.
	WorkspaceStopNotAllowed Code = "WORKSPACE_STOP_NOT_ALLOWED"
	// WorkspaceStartNotAllowed: start from a state it is not allowed from.
	WorkspaceStartNotAllowed Code = "WORKSPACE_START_NOT_ALLOWED"
	// WorkspaceRestartNotAllowed: restart from a state it is not allowed from.
	WorkspaceRestartNotAllowed Code = "WORKSPACE_RESTART_NOT_ALLOWED"
	// WorkspaceServiceRestartNotAllowed: a service restart of a workspace that is not running.
	WorkspaceServiceRestartNotAllowed Code = "WORKSPACE_SERVICE_RESTART_NOT_ALLOWED"
	// WorkspaceServiceNotEnabled: a service restart of a service the workspace does not run.
	WorkspaceServiceNotEnabled Code = "WORKSPACE_SERVICE_NOT_ENABLED"
	// FirewallUpdateNotAllowed: a firewall update of a workspace being deleted.
	FirewallUpdateNotAllowed Code = "FIREWALL_UPDATE_NOT_ALLOWED"
	// FirewallRevisionConflict: a firewall update carries a stale revision.
	FirewallRevisionConflict Code = "FIREWALL_REVISION_CONFLICT"
	// WorkspaceConflict: the workspace kept changing under a command; retry.
	WorkspaceConflict Code = "WORKSPACE_CONFLICT"
	// CommandUnknown: the state machine was asked for a command it does not
	// know (a server bug rather than a client's).
	CommandUnknown Code = "COMMAND_UNKNOWN"
)

// Limits and availability (413, 429, 500, 503).
const (
	// RequestTooLarge: the request body is over the size cap.
	RequestTooLarge Code = "REQUEST_TOO_LARGE"
	// QuotaExceeded: the owner already has the most workspaces allowed.
	QuotaExceeded Code = "QUOTA_EXCEEDED"
	// RateLimited: the caller sent too many mutating calls; retry after Retry-After.
	RateLimited Code = "RATE_LIMITED"
	// StoreUnavailable: the workspace store (JetStream KV) failed; retry.
	StoreUnavailable Code = "STORE_UNAVAILABLE"
	// WatchFellBehind: a watch could not keep up and was closed; reconnect.
	WatchFellBehind Code = "WATCH_FELL_BEHIND"
	// WatchLimitReached: the caller already holds the most open watches
	// allowed (--max-watches-per-user).
	WatchLimitReached Code = "WATCH_LIMIT_REACHED"
	// AuthIssuerUnavailable: the identity provider could not be reached.
	AuthIssuerUnavailable Code = "AUTH_ISSUER_UNAVAILABLE"
	// Unavailable: the gateway's code for an Unavailable status without a
	// more specific reason (the server is not reachable).
	Unavailable Code = "UNAVAILABLE"
	// Internal: an error the server did not classify.
	Internal Code = "INTERNAL"
)

// Workspace failures: the error_code of a workspace in state failed.
const (
	// DeadlineExceeded: a transitional state did not finish within its deadline.
	DeadlineExceeded Code = "DEADLINE_EXCEEDED"
	// ProvisionerFailed: a provisioner reported failed without a code of its own.
	ProvisionerFailed Code = "PROVISIONER_FAILED"
	// ImagePullFailed: a service image is missing and cannot be pulled (docker).
	ImagePullFailed Code = "IMAGE_PULL_FAILED"
	// HealthCheckFailed: a service stayed unhealthy past its health timeout (docker).
	HealthCheckFailed Code = "HEALTH_CHECK_FAILED"
	// ContainerCrashLoop: a service of a running workspace kept exiting (docker).
	ContainerCrashLoop Code = "CONTAINER_CRASH_LOOP"
	// ResourceConflict: a container name is taken by an object Aileron does not own (docker).
	ResourceConflict Code = "RESOURCE_CONFLICT"
	// KubernetesReconcileFailed: the operator reports the Workspace not
	// ready without a reason (kubernetes).
	KubernetesReconcileFailed Code = "KUBERNETES_RECONCILE_FAILED"
)

// Firewall status errors: the error_code of a workspace's firewall status.
const (
	// FirewallPolicyInvalid: the stored firewall settings could not be turned into a policy.
	FirewallPolicyInvalid Code = "FIREWALL_POLICY_INVALID"
	// CiliumNotInstalled: the cluster has no CiliumNetworkPolicy kind, so
	// nothing enforces the policy (kubernetes, phase unavailable).
	CiliumNotInstalled Code = "CILIUM_NOT_INSTALLED"
)

// CLI errors: codes the aileron command prints; they never come from the API.
const (
	// WaitTimeout: --wait ran out before the workspace settled.
	WaitTimeout Code = "WAIT_TIMEOUT"
	// WorkspaceFailed: --wait saw the workspace fail without an error code.
	WorkspaceFailed Code = "WORKSPACE_FAILED"
)

// Prefix starts the codes built at run time from another system's word.
type Prefix string

// Prefixes of run-time codes.
const (
	// PrefixKubernetes + the operator's Ready or firewall condition reason in
	// upper snake case, e.g. KUBERNETES_REPLICA_FAILURE (kubernetes).
	PrefixKubernetes Prefix = "KUBERNETES_"
	// PrefixHTTP + the HTTP status the CLI got without an error body, e.g. HTTP_502.
	PrefixHTTP Prefix = "HTTP_"
	// PrefixRPC + the numeric gRPC code of a stream error without ErrorInfo, e.g. RPC_14 (CLI).
	PrefixRPC Prefix = "RPC_"
)

// With returns the code p + suffix.
func (p Prefix) With(suffix string) Code { return Code(string(p) + suffix) }

// Front-door errors: a request to a workspace service on its own origin
// (<service>--<id>.<apps domain>).
const (
	// FrontDoorCredentialInvalid (401): the ticket or session cookie is forged,
	// expired, already used, for another workspace or service, or from before
	// the workspace was last stopped, started or restarted.
	FrontDoorCredentialInvalid Code = "FRONTDOOR_CREDENTIAL_INVALID"
	// FrontDoorRequestRefused (403): a cross-origin request carrying the
	// session cookie, or a WebSocket upgrade from a foreign Origin.
	FrontDoorRequestRefused Code = "FRONTDOOR_REQUEST_REFUSED"
	// FrontDoorHostInvalid (404): the host is on the apps domain but names no
	// service and workspace id.
	FrontDoorHostInvalid Code = "FRONTDOOR_HOST_INVALID"
	// WorkspaceNotRunning (409): the workspace is not running; the message
	// names its state.
	WorkspaceNotRunning Code = "WORKSPACE_NOT_RUNNING"
	// WorkspaceServiceUnavailable (503): the service is not running (the
	// message names its state) or its ingress did not answer.
	WorkspaceServiceUnavailable Code = "WORKSPACE_SERVICE_UNAVAILABLE"
)

// All lists every fixed code.
var All = []Code{
	RequestInvalid, RequestEncodingInvalid, WorkspaceNameInvalid, WorkspaceIDInvalid, WorkspaceProvisionerInvalid,
	WorkspaceProvisionerNotEnabled, WorkspaceServiceInvalid, WorkspaceStateInvalid,
	PageSizeInvalid, PageTokenInvalid, SearchInvalid,
	FirewallDomainInvalid, FirewallDomainsTooMany, FirewallModeInvalid,
	Unauthenticated, AuthTokenMissing, AuthTokenInvalid, AuthTokenExpired, AuthAudienceInvalid,
	AuthIssuerInvalid, AuthEmailUnverified, PermissionDenied, FirewallAdminOnly, RequestCrossSite,
	RequestContentTypeInvalid, HostNotAllowed,
	WorkspaceNotFound, NotFound, RouteNotFound, MethodNotAllowed, NotImplemented,
	WorkspaceNameConflict, WorkspaceStopNotAllowed, WorkspaceStartNotAllowed, WorkspaceRestartNotAllowed,
	WorkspaceServiceRestartNotAllowed, WorkspaceServiceNotEnabled, FirewallUpdateNotAllowed,
	FirewallRevisionConflict, WorkspaceConflict, CommandUnknown,
	RequestTooLarge, QuotaExceeded, RateLimited, StoreUnavailable, WatchFellBehind, WatchLimitReached,
	AuthIssuerUnavailable, Unavailable, Internal,
	DeadlineExceeded, ProvisionerFailed, ImagePullFailed, HealthCheckFailed, ContainerCrashLoop,
	ResourceConflict, KubernetesReconcileFailed,
	FirewallPolicyInvalid, CiliumNotInstalled,
	WaitTimeout, WorkspaceFailed,
	PathInvalid, PathOutsideRoot, FileNotFound, FileExists, FileNotDirectory, FileIsDirectory,
	DirectoryNotEmpty, FileTooLarge, CommandInvalid, CommandStartFailed, ProcessLimitReached,
	AgentNotFound, AgentNotInstalled, SessionNotFound, SessionTagInvalid, SessionExists, SessionInputClosed, SessionInputBlocked,
	SignalInvalid, TerminalNotFound, TerminalIDInvalid, TerminalExists, TerminalLimitReached,
	OriginNotAllowed, XtermNotInstalled, PreviewPortInvalid, PreviewPortRefused, PreviewPortNotListening, PreviewUpstreamFailed,
	FrontDoorCredentialInvalid, FrontDoorRequestRefused, FrontDoorHostInvalid, WorkspaceNotRunning, WorkspaceServiceUnavailable,
	CanvasPathInvalid, CanvasPathOutside, CanvasNotFound, CanvasFileTooLarge, CanvasRuntimeUnavailable,
	BrowserURLInvalid, BrowserTabNotFound, BrowserUnavailable, BrowserConnectionLimitReached,
}

// Prefixes lists every prefix of run-time codes.
var Prefixes = []Prefix{PrefixKubernetes, PrefixHTTP, PrefixRPC}

// Known reports whether c is in All or starts with one of Prefixes.
func Known(c Code) bool {
	for _, k := range All {
		if c == k {
			return true
		}
	}
	for _, p := range Prefixes {
		if strings.HasPrefix(string(c), string(p)) && len(c) > len(p) {
			return true
		}
	}
	return false
}
