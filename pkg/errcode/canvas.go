package errcode

// Canvas errors: the codes of a workspace's canvas service, which serves
// the files under the workspace's canvas folder (services/workspace,
// documented in docs/canvas.md). It reuses MethodNotAllowed,
// WatchLimitReached, RouteNotFound and Internal.
const (
	// CanvasPathInvalid: a canvas path holds `..`, `.`, a backslash or a
	// NUL, or otherwise cannot name a file under the canvas folder (400).
	CanvasPathInvalid Code = "CANVAS_PATH_INVALID"
	// CanvasPathOutside: the path leads out of the canvas folder, through a
	// symlink or because the folder itself is one (403).
	CanvasPathOutside Code = "CANVAS_PATH_OUTSIDE"
	// CanvasNotFound: nothing servable exists at the path (404).
	CanvasNotFound Code = "CANVAS_NOT_FOUND"
	// CanvasFileTooLarge: the file is over the canvas's size cap (413).
	CanvasFileTooLarge Code = "CANVAS_FILE_TOO_LARGE"
	// CanvasRuntimeUnavailable: the workspace's runtime daemon, through
	// which the canvas reads files, did not answer (502).
	CanvasRuntimeUnavailable Code = "CANVAS_RUNTIME_UNAVAILABLE"
)
