package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
)

// barWidth is the width of the text waterfall column.
const barWidth = 30

func (e *cliEnv) timeline(ctx context.Context, args []string) int {
	fs := e.flags("workspace timeline", "ID")
	pos, code, ok := e.parse(fs, args, 1, 1)
	if !ok {
		return code
	}
	tl, err := e.client.timeline(ctx, pos[0])
	if err != nil {
		return e.fail(err)
	}
	if e.output == "json" {
		return e.printJSON(tl)
	}
	if len(tl.Transitions) == 0 {
		fmt.Fprintln(e.stdout, "no transitions")
		return exitOK
	}
	for i, t := range tl.Transitions {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printTransition(e.stdout, t, time.Now())
	}
	return exitOK
}

// printTransition writes one transition: a heading, then each step with its
// offset from the transition's start, its duration and a text waterfall bar.
func printTransition(out io.Writer, t *workspacev1.Transition, now time.Time) {
	start := t.StartTime.AsTime()
	end := now
	result := "under way"
	if t.EndTime != nil {
		end, result = t.EndTime.AsTime(), t.Result
	}
	total := end.Sub(start)
	fmt.Fprintf(out, "%s → %s (generation %d), %s, took %s\n",
		t.State, result, t.Generation, start.UTC().Format(time.RFC3339), seconds(total))
	rows := make([][]string, 0, len(t.Steps))
	for _, s := range t.Steps {
		off := s.StartTime.AsTime().Sub(start)
		d := s.Duration.AsDuration()
		rows = append(rows, []string{"+" + seconds(off), seconds(d), s.Name, or(s.Target, "-"), bar(off, d, total)})
	}
	table(out, []string{"OFFSET", "DURATION", "STEP", "TARGET", "WATERFALL"}, rows)
}

// seconds formats d as seconds with millisecond precision: 1.234s.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// bar draws a step as '=' over barWidth columns spanning the transition, at
// least one column wide so instant steps show where they happened.
func bar(off, d, total time.Duration) string {
	if total <= 0 {
		return "|"
	}
	col := func(x time.Duration) int { return min(barWidth, max(0, int(int64(barWidth)*int64(x)/int64(total)))) }
	from, to := col(off), col(off+d)
	if to <= from {
		to = min(barWidth, from+1)
		from = to - 1
	}
	return "|" + strings.Repeat(" ", from) + strings.Repeat("=", to-from) + strings.Repeat(" ", barWidth-to) + "|"
}
