package provisioner_test

import (
	"bytes"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// logLines collects a provisioner's log lines; it is safe for concurrent
// writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// unattributed returns the lines that mention workspace id without a
// workspace_id attribute naming it.
func (l *logLines) unattributed(id string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, id) && !strings.Contains(line, "workspace_id="+id) {
			out = append(out, line)
		}
	}
	return out
}
