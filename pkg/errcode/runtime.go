package errcode

// Runtime daemon errors: the codes of the API inside a workspace
// (services/workspace, documented in docs/runtime.md). Its request, limit
// and route errors reuse RequestInvalid, RequestTooLarge, RouteNotFound and
// Internal.
const (
	// PathInvalid: a path is empty, holds a NUL, names the root where that
	// is not allowed, or is not a regular file where one is needed (400).
	PathInvalid Code = "PATH_INVALID"
	// PathOutsideRoot: a path climbs out of the workspace root with `..` or
	// through a symlink that resolves outside it (403).
	PathOutsideRoot Code = "PATH_OUTSIDE_ROOT"
	// FileNotFound: nothing exists at the path (404).
	FileNotFound Code = "FILE_NOT_FOUND"
	// FileExists: the target of a move or mkdir exists (409).
	FileExists Code = "FILE_EXISTS"
	// FileNotDirectory: a directory was needed (list, cwd, a parent) (409).
	FileNotDirectory Code = "FILE_NOT_DIRECTORY"
	// FileIsDirectory: a file was needed (read, write) (409).
	FileIsDirectory Code = "FILE_IS_DIRECTORY"
	// DirectoryNotEmpty: a non-recursive remove of a directory with content (409).
	DirectoryNotEmpty Code = "DIRECTORY_NOT_EMPTY"
	// FileTooLarge: a file read or write over the size cap (413).
	FileTooLarge Code = "FILE_TOO_LARGE"
	// CommandInvalid: neither or both of argv and shell, a bad env name or timeout (400).
	CommandInvalid Code = "COMMAND_INVALID"
	// CommandStartFailed: the command could not be started, e.g. no such program (400).
	CommandStartFailed Code = "COMMAND_START_FAILED"
	// ProcessLimitReached: the most concurrent execs or sessions already run (429).
	ProcessLimitReached Code = "PROCESS_LIMIT_REACHED"
	// AgentNotFound: no agent of that name is configured in the workspace (404).
	AgentNotFound Code = "AGENT_NOT_FOUND"
	// AgentNotInstalled: the agent's command is not on the workspace's PATH (409).
	AgentNotInstalled Code = "AGENT_NOT_INSTALLED"
	// SessionNotFound: no session has the tag (404).
	SessionNotFound Code = "SESSION_NOT_FOUND"
	// SessionTagInvalid: a session tag is not 1-64 letters, digits, '.', '_', '-' (400).
	SessionTagInvalid Code = "SESSION_TAG_INVALID"
	// SessionExists: a running session already has the tag (409).
	SessionExists Code = "SESSION_EXISTS"
	// SessionInputClosed: input or a signal to a session that has exited or closed its input (409).
	SessionInputClosed Code = "SESSION_INPUT_CLOSED"
	// SessionInputBlocked: the session did not read its input in time (409).
	SessionInputBlocked Code = "SESSION_INPUT_BLOCKED"
	// SignalInvalid: a signal name the runtime does not send (400).
	SignalInvalid Code = "SIGNAL_INVALID"
	// TerminalNotFound: no terminal has the id (404).
	TerminalNotFound Code = "TERMINAL_NOT_FOUND"
	// TerminalIDInvalid: a terminal id is not 1-64 letters, digits, '.', '_', '-' (400).
	TerminalIDInvalid Code = "TERMINAL_ID_INVALID"
	// TerminalExists: a running terminal already has the id (409).
	TerminalExists Code = "TERMINAL_EXISTS"
	// TerminalLimitReached: the most terminals already run (429).
	TerminalLimitReached Code = "TERMINAL_LIMIT_REACHED"
	// OriginNotAllowed: a browser request from an origin other than the
	// daemon's own host or a configured one (403).
	OriginNotAllowed Code = "ORIGIN_NOT_ALLOWED"
	// XtermNotInstalled: the terminal page cannot be served because xterm.js
	// (Debian's node-xterm and libjs-xterm) is not where the daemon looks (503).
	XtermNotInstalled Code = "XTERM_NOT_INSTALLED"
	// PreviewPortInvalid: a preview names no port 1-65535 (400).
	PreviewPortInvalid Code = "PREVIEW_PORT_INVALID"
	// PreviewPortRefused: the port is one of the workspace's own daemons,
	// which a preview origin must not reach (403).
	PreviewPortRefused Code = "PREVIEW_PORT_REFUSED"
	// PreviewPortNotListening: nothing in the workspace listens on the port (502).
	PreviewPortNotListening Code = "PREVIEW_PORT_NOT_LISTENING"
	// PreviewUpstreamFailed: the workspace's server on the port did not
	// answer (502).
	PreviewUpstreamFailed Code = "PREVIEW_UPSTREAM_FAILED"
)

// Browser daemon errors: the codes of the browser service's API
// (services/workspace/browser, documented in docs/browser.md).
const (
	// BrowserURLInvalid: a URL to open is not http, https or about:blank (400).
	BrowserURLInvalid Code = "BROWSER_URL_INVALID"
	// BrowserTabNotFound: no tab has the id (404).
	BrowserTabNotFound Code = "BROWSER_TAB_NOT_FOUND"
	// BrowserUnavailable: Chromium is starting, restarting or not answering (503).
	BrowserUnavailable Code = "BROWSER_UNAVAILABLE"
	// BrowserConnectionLimitReached: the most DevTools or screencast
	// connections are already open (429).
	BrowserConnectionLimitReached Code = "BROWSER_CONNECTION_LIMIT_REACHED"
)
