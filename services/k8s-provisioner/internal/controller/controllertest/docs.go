package controllertest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var docTableName = regexp.MustCompile("(?m)^\\| `([a-z_:][a-z0-9_:]*)` \\|")

// DocumentedMetrics returns the metric names docs/metrics.md lists (the
// first column of its tables) that start with prefix: the one list the
// chart's dashboard and alerts are checked against.
func DocumentedMetrics(prefix string) (map[string]bool, error) {
	path := filepath.Join(moduleRoot(), "..", "..", "docs", "metrics.md")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	names := map[string]bool{}
	for _, m := range docTableName.FindAllStringSubmatch(string(b), -1) {
		if strings.HasPrefix(m[1], prefix) {
			names[m[1]] = true
		}
	}
	return names, nil
}
