package policy_test

import (
	"testing"

	"aileron.dev/services/firewall/policy"
)

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"example.com", "*.example.com", "EXAMPLE.com.", "аpple.com", "bücher.example", "1.2.3.4",
		"[::1]", "0x7f.1", "*.co.uk", "a.*.com", "example.com:443", "http://x.com/", "１２７.０.０.１",
		"example。com", "xn--bcher-kva.example", "ß.de", "a..b", "⒈.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := policy.Normalize(in)
		if err != nil {
			return
		}
		again, err := policy.Normalize(out)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q, which does not re-normalize: %v", in, out, err)
		}
		if again != out {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", in, out, out, again)
		}
		if len(out) > 253 {
			t.Fatalf("Normalize(%q) = %q longer than 253", in, out)
		}
	})
}
