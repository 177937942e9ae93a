package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mainPackages are the binaries the chart runs, by component.
var mainPackages = map[string]string{
	"api":                "services/api/cmd/api",
	"firewall":           "services/firewall/cmd/firewall",
	"k8s-provisioner":    "services/k8s-provisioner/cmd/k8s-provisioner",
	"workspace-operator": "services/k8s-provisioner/cmd/workspace-operator",
}

// TestChartFlagsParse builds each service binary from this repository and
// hands it the flags the chart renders, followed by -h: Go's flag package
// parses every flag before the -h and stops at the first one it does not
// know or cannot parse, so a flag the chart invented or misspelt fails here
// rather than in a CrashLoopBackOff.
func TestChartFlagsParse(t *testing.T) {
	bin := t.TempDir()
	for component, pkg := range mainPackages {
		out := filepath.Join(bin, component)
		cmd := exec.CommandContext(t.Context(), "go", "build", "-o", out, "./"+pkg)
		cmd.Dir = repoRoot()
		// The repository's go.work joins the service modules, whatever
		// GOWORK this test module runs under.
		cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(repoRoot(), "go.work"), "CGO_ENABLED=0")
		msg, err := cmd.CombinedOutput()
		require.NoError(t, err, "go build ./%s:\n%s", pkg, msg)
	}
	for _, inst := range installs {
		t.Run(inst.name, func(t *testing.T) {
			m := render(t, inst)
			for component := range mainPackages {
				_, c := container(t, m, inst.prefix()+component)
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				cmd := exec.CommandContext(ctx, filepath.Join(bin, component), append(c.Args, "-h")...)
				env := []string{"HOME=" + t.TempDir()}
				for _, e := range c.Env {
					if e.ValueFrom == nil {
						env = append(env, e.Name+"="+e.Value)
					}
				}
				cmd.Env = env
				out, _ := cmd.CombinedOutput()
				cancel()
				text := string(out)
				require.Contains(t, text, "Usage of", "%s %v: -h was not reached:\n%s", component, c.Args, text)
				for _, bad := range []string{"provided but not defined", "invalid value", "invalid boolean"} {
					require.NotContains(t, text, bad, "%s %v", component, c.Args)
				}
			}
		})
	}
}
