package canvas

import (
	"path"
	"strings"
)

// kind is how the canvas serves a file, by its extension.
type kind struct {
	contentType string
	// html files get the live-reload script; markdown files are rendered.
	html, markdown bool
}

// types maps an extension to its Content-Type. A fixed table, not the
// system's: the canvas runs in an image with no /etc/mime.types, and
// nosniff makes the type decide how a browser treats the bytes.
var types = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
	".json": "application/json", ".map": "application/json", ".wasm": "application/wasm",
	".xml": "application/xml", ".pdf": "application/pdf",
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml", ".ico": "image/x-icon", ".bmp": "image/bmp",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg",
	".csv": "text/csv; charset=utf-8",
	".txt": "text/plain; charset=utf-8", ".text": "text/plain; charset=utf-8", ".log": "text/plain; charset=utf-8",
	".yaml": "text/plain; charset=utf-8", ".yml": "text/plain; charset=utf-8", ".toml": "text/plain; charset=utf-8",
	".ini": "text/plain; charset=utf-8", ".py": "text/plain; charset=utf-8", ".go": "text/plain; charset=utf-8",
	".sh": "text/plain; charset=utf-8", ".ts": "text/plain; charset=utf-8", ".sql": "text/plain; charset=utf-8",
	".diff": "text/plain; charset=utf-8", ".patch": "text/plain; charset=utf-8",
	".md": "text/html; charset=utf-8", ".markdown": "text/html; charset=utf-8",
}

// kindOf is the kind of the file named name: a name without an extension
// (README, LICENSE) is text, an unknown extension is opaque bytes.
func kindOf(name string) kind {
	ext := strings.ToLower(path.Ext(name))
	ct, ok := types[ext]
	switch {
	case ext == "":
		ct = "text/plain; charset=utf-8"
	case !ok:
		ct = "application/octet-stream"
	}
	return kind{contentType: ct, html: ext == ".html" || ext == ".htm", markdown: ext == ".md" || ext == ".markdown"}
}
