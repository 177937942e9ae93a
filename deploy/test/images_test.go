package test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDockerfiles checks every image recipe: FROM scratch (nothing to pull,
// no shell), no RUN step, uid 65532, the binary as an exec-form entrypoint;
// and that deploy/hack/build-images.sh knows every image and the chart runs
// only images that have a recipe.
func TestDockerfiles(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(repoRoot(), "deploy", "images", "*", "Dockerfile"))
	require.NoError(t, err)
	script, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "hack", "build-images.sh"))
	require.NoError(t, err)
	names := map[string]bool{}
	for _, path := range dirs {
		name := filepath.Base(filepath.Dir(path))
		names[name] = true
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			var instr []string
			for line := range strings.Lines(string(data)) {
				line = strings.TrimSpace(line)
				if line != "" && !strings.HasPrefix(line, "#") {
					instr = append(instr, line)
				}
			}
			require.NotEmpty(t, instr)
			assert.Equal(t, "FROM scratch", instr[0])
			for _, in := range instr {
				assert.NotRegexp(t, `^(RUN|ADD|FROM \S+ AS|FROM golang)`, in)
			}
			assert.Contains(t, instr, "USER 65532:65532")
			assert.Contains(t, instr, "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt")
			assert.Equal(t, `ENTRYPOINT ["/`+name+`"]`, instr[len(instr)-1])
			assert.Regexp(t, regexp.MustCompile(`\[`+regexp.QuoteMeta(name)+`\]=services/`), string(script),
				"build-images.sh does not know %s", name)
		})
	}
	for component := range mainPackages {
		assert.True(t, names[component], "the chart runs %s but deploy/images/%s/Dockerfile is missing", component, component)
	}
}
