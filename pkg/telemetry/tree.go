package telemetry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ReconcileSpan names the provisioners' reconcile passes.
const ReconcileSpan = "reconcile"

// treeQuiet is how long a trace must have no open span before it counts as
// finished: longer than an event takes from publish to consume and than a
// provisioner waits between two passes of a converging workspace.
const treeQuiet = 2 * time.Second

// maxTreeSpans bounds the spans kept of one trace.
const maxTreeSpans = 2000

// Tree is a span processor that writes every finished trace of a request
// that reached a provisioner (a create, start, stop or delete) as an
// indented tree: what `aileron dev --trace` prints on stderr. Traces of
// other requests (reads, watches) and of background passes are dropped.
type Tree struct {
	w      io.Writer
	mu     sync.Mutex
	traces map[trace.TraceID]*pendingTrace
}

type pendingTrace struct {
	open  int
	spans []sdktrace.ReadOnlySpan
	timer *time.Timer
}

var _ sdktrace.SpanProcessor = (*Tree)(nil)

// NewTree returns a Tree writing to w.
func NewTree(w io.Writer) *Tree {
	return &Tree{w: w, traces: map[trace.TraceID]*pendingTrace{}}
}

// OnStart counts s as open in its trace.
func (t *Tree) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.traces[s.SpanContext().TraceID()]
	if p == nil {
		p = &pendingTrace{}
		t.traces[s.SpanContext().TraceID()] = p
	}
	p.open++
	if p.timer != nil {
		p.timer.Stop()
	}
}

// OnEnd keeps s and, once its trace has no open span, waits treeQuiet for
// more before writing the trace.
func (t *Tree) OnEnd(s sdktrace.ReadOnlySpan) {
	id := s.SpanContext().TraceID()
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.traces[id]
	if p == nil {
		return
	}
	p.open--
	if len(p.spans) < maxTreeSpans {
		p.spans = append(p.spans, s)
	}
	if p.open <= 0 {
		if p.timer != nil {
			p.timer.Stop()
		}
		p.timer = time.AfterFunc(treeQuiet, func() { t.flush(id) })
	}
}

func (t *Tree) flush(id trace.TraceID) {
	t.mu.Lock()
	p := t.traces[id]
	if p == nil || p.open > 0 {
		t.mu.Unlock()
		return
	}
	delete(t.traces, id)
	t.mu.Unlock()
	if requested(p.spans) {
		_, _ = io.WriteString(t.w, FormatTree(p.spans))
	}
}

// requested reports whether spans are a request's trace that reached a
// provisioner: one has a reconcile span and its root (the span whose parent
// is not in the trace: none, or a caller's outside Aileron) is not one.
func requested(spans []sdktrace.ReadOnlySpan) bool {
	ids := make(map[trace.SpanID]bool, len(spans))
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	reconciled, root := false, ""
	for _, s := range spans {
		if s.Name() == ReconcileSpan {
			reconciled = true
		}
		if !ids[s.Parent().SpanID()] {
			root = s.Name()
		}
	}
	return reconciled && root != "" && root != ReconcileSpan
}

// Shutdown writes the traces still waiting.
func (t *Tree) Shutdown(context.Context) error {
	t.mu.Lock()
	ids := make([]trace.TraceID, 0, len(t.traces))
	for id, p := range t.traces {
		if p.timer != nil {
			p.timer.Stop()
		}
		p.open = 0
		ids = append(ids, id)
	}
	t.mu.Unlock()
	for _, id := range ids {
		t.flush(id)
	}
	return nil
}

// ForceFlush does nothing: traces are written once finished.
func (t *Tree) ForceFlush(context.Context) error { return nil }

// FormatTree renders spans of one trace as an indented tree, children under
// their parent in start order, each line with the span's duration, its start
// relative to the trace's first span, and its workspace_id:
//
//	trace 4bf92f3577b34da6a3ce929d0e0e4736
//	  POST /api/v1/workspaces  4.1ms  +0s
//	    publish aileron.workspace.docker.created  0.6ms  +3.2ms  workspace_id=ws-…
func FormatTree(spans []sdktrace.ReadOnlySpan) string {
	if len(spans) == 0 {
		return ""
	}
	byID := map[trace.SpanID]bool{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = true
	}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var roots []sdktrace.ReadOnlySpan
	first := spans[0].StartTime()
	for _, s := range spans {
		if s.StartTime().Before(first) {
			first = s.StartTime()
		}
		if p := s.Parent(); p.IsValid() && byID[p.SpanID()] {
			children[p.SpanID()] = append(children[p.SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) }
	var b strings.Builder
	fmt.Fprintf(&b, "trace %s\n", spans[0].SpanContext().TraceID())
	var write func(s sdktrace.ReadOnlySpan, depth int)
	write = func(s sdktrace.ReadOnlySpan, depth int) {
		fmt.Fprintf(&b, "%s%s  %s  +%s", strings.Repeat("  ", depth), s.Name(), roundDuration(s.EndTime().Sub(s.StartTime())), roundDuration(s.StartTime().Sub(first)))
		for _, a := range s.Attributes() {
			if a.Key == "workspace_id" {
				fmt.Fprintf(&b, "  workspace_id=%s", a.Value.Emit())
			}
		}
		if s.Status().Code == codes.Error {
			fmt.Fprintf(&b, "  error=%q", s.Status().Description)
		}
		b.WriteByte('\n')
		kids := children[s.SpanContext().SpanID()]
		slices.SortStableFunc(kids, byStart)
		for _, c := range kids {
			write(c, depth+1)
		}
	}
	slices.SortStableFunc(roots, byStart)
	for _, r := range roots {
		write(r, 1)
	}
	return b.String()
}

// roundDuration keeps two or three significant digits.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Millisecond)
	}
}
