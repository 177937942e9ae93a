package test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allowedHosts returns the names of the api's --allowed-hosts flag.
func allowedHosts(t *testing.T, m manifest, prefix string) []string {
	t.Helper()
	_, c := container(t, m, prefix+"api")
	i := slices.IndexFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--allowed-hosts=") })
	require.GreaterOrEqual(t, i, 0, "the api gets --allowed-hosts: %v", c.Args)
	return strings.Split(strings.TrimPrefix(c.Args[i], "--allowed-hosts="), ",")
}

// TestAPIAllowedHosts: the api answers the Host names clients of the chart
// use — the Service's in-cluster names, the ingress hosts and
// api.allowedHosts — and no others (loopback is built in).
func TestAPIAllowedHosts(t *testing.T) {
	service := func(svc, ns string) []string {
		return []string{svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"}
	}
	t.Run("defaults", func(t *testing.T) {
		inst := installs[0]
		got := allowedHosts(t, render(t, inst), inst.prefix())
		assert.ElementsMatch(t, service(inst.prefix()+"api", inst.namespace), got)
	})
	t.Run("external: the ingress host", func(t *testing.T) {
		inst := installs[1]
		got := allowedHosts(t, render(t, inst), inst.prefix())
		assert.ElementsMatch(t, append(service(inst.prefix()+"api", inst.namespace), "aileron.example.com"), got)
	})
	t.Run("api.allowedHosts", func(t *testing.T) {
		inst := installs[1]
		got := allowedHosts(t, render(t, inst, "--set", "api.allowedHosts={lb.example.net,*.corp.example,aileron.example.com}"), inst.prefix())
		assert.ElementsMatch(t, append(service(inst.prefix()+"api", inst.namespace), "aileron.example.com", "lb.example.net", "*.corp.example"), got,
			"each name once")
	})
	for _, bad := range []string{"https://x.example", "x.example:443", "*", "X.Example"} {
		t.Run("refused "+bad, func(t *testing.T) {
			out, err := runHelm(t, append([]string{"template", "aileron", chartDir(), "--set", "api.allowedHosts[0]=" + bad}, installs[0].helmArgs()...)...)
			require.Error(t, err, out)
			require.ErrorContains(t, err, "at '/api/allowedHosts/0'")
		})
	}
}
