package errcode_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"aileron.dev/pkg/errcode"
)

// docCode matches a code as docs/api.md spells it: in backticks, upper snake
// case, a prefix written as KUBERNETES_<REASON>.
var docCode = regexp.MustCompile("`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_?(?:<[A-Z_]+>)?)`")

func TestDocsListEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, m := range docCode.FindAllStringSubmatch(string(b), -1) {
		named = append(named, m[1])
	}
	for _, c := range errcode.All {
		if !slices.Contains(named, string(c)) {
			t.Errorf("docs/api.md does not document %s: add it where its status or kind is listed", c)
		}
	}
	for _, p := range errcode.Prefixes {
		if !slices.ContainsFunc(named, func(n string) bool { return strings.HasPrefix(n, string(p)+"<") }) {
			t.Errorf("docs/api.md does not document the codes starting %s (write them as `%s<WORD>`)", p, p)
		}
	}
	for _, n := range named {
		if !strings.Contains(n, "_") || strings.HasPrefix(n, "AILERON_") {
			continue // a single upper-case word or an environment variable, not a code
		}
		if i := strings.IndexByte(n, '<'); i >= 0 {
			if !slices.Contains(errcode.Prefixes, errcode.Prefix(n[:i])) {
				t.Errorf("docs/api.md names the code prefix %s, which pkg/errcode does not catalogue", n)
			}
			continue
		}
		if !errcode.Known(errcode.Code(n)) {
			t.Errorf("docs/api.md names %s, which pkg/errcode does not catalogue", n)
		}
	}
}

func TestAllIsUnique(t *testing.T) {
	seen := map[errcode.Code]bool{}
	for _, c := range errcode.All {
		if seen[c] {
			t.Errorf("%s is listed twice", c)
		}
		seen[c] = true
	}
}

func TestKnown(t *testing.T) {
	for c, want := range map[errcode.Code]bool{
		errcode.DeadlineExceeded:              true,
		errcode.PrefixKubernetes.With("SOME"): true,
		"KUBERNETES_":                         false,
		"MADE_UP":                             false,
	} {
		if got := errcode.Known(c); got != want {
			t.Errorf("Known(%s) = %v, want %v", c, got, want)
		}
	}
}
