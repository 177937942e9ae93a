package ingress

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"time"

	"aileron.dev/pkg/periodic"
)

// Header carries the workspace's ingress secret from the API's front door.
// It is aileron.dev/pkg/frontdoor.Header (a test holds them equal), spelled
// here so the gateway binary does not link the NATS client that package
// needs for the key.
const Header = "X-Aileron-Ingress-Secret"

// MinSecretLen is the shortest secret the ingress accepts: a shorter one is
// a mistake (the front door's are 64 hex digits) and would be guessable.
const MinSecretLen = 32

// SetSecret sets the secret every request must carry in Header; "" (or a
// secret shorter than MinSecretLen) refuses every request. Safe to call
// while serving.
func (h *Handler) SetSecret(secret string) {
	if len(secret) < MinSecretLen {
		h.secret.Store(nil)
		return
	}
	b := []byte(secret)
	h.secret.Store(&b)
}

// admit reports whether req carries the secret: exactly one Header value,
// compared in constant time. Without a secret nothing is admitted.
func (h *Handler) admit(req *http.Request) bool {
	want := h.secret.Load()
	got := req.Header.Values(Header)
	if want == nil || len(got) != 1 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got[0]), *want) == 1
}

// refuse answers a request without the right secret: a bare 403, no body
// and no reason, so a prober learns nothing about the workspace or why.
func refuse(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusForbidden)
}

// WatchSecretFile polls path every interval and calls set with its content
// (surrounding white space trimmed) whenever it changes, and once at start.
// It fails closed: a missing, unreadable, empty or too short file sets ""
// (refuse everything), logged once per distinct problem, so a secret the
// provisioner writes after the gateway started is picked up on the next
// poll. The secret itself is never logged. It returns when ctx is done.
func WatchSecretFile(ctx context.Context, path string, interval time.Duration, set func(string), log *slog.Logger) {
	var last []byte
	var lastProblem string
	loaded, everLoaded := false, false
	check := func() {
		data, err := os.ReadFile(path)
		data = bytes.TrimSpace(data)
		problem := ""
		switch {
		case err != nil:
			problem = err.Error()
		case len(data) == 0:
			problem = "secret file is empty"
		case len(data) < MinSecretLen:
			problem = "secret file is shorter than the minimum length"
		}
		if problem != "" {
			switch {
			case problem == lastProblem:
			case !everLoaded && errors.Is(err, fs.ErrNotExist):
				// A gateway starts while its provisioner writes the file.
				log.Info("waiting for the ingress secret file; refusing every request until then", slog.String("path", path))
			default:
				log.Error("ingress secret not loaded, refusing every request",
					slog.String("path", path), slog.String("reason", problem))
			}
			lastProblem = problem
			last, loaded = nil, false
			set("")
			return
		}
		if loaded && bytes.Equal(data, last) {
			return
		}
		last, loaded, everLoaded, lastProblem = data, true, true, ""
		set(string(data))
		log.Info("ingress secret loaded", slog.String("path", path))
	}
	check()
	periodic.Run(ctx, interval, func(context.Context) { check() })
}
