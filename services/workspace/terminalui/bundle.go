package terminalui

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// bundle turns xterm.js's CommonJS modules (Debian's node-xterm, under
// modulesDir/lib) and the fit addon (Debian's libjs-xterm) into one
// browser script that sets window.Terminal.
//
// Debian bookworm's libjs-xterm ships lib/xterm.js as a 288-byte stub that
// calls require("./public/Terminal"): the upstream browser bundle was not
// built, so the file does nothing in a browser. The modules it needs are
// the node-xterm package's, which are plain CommonJS with no dependency
// outside the package; a define/require table of a dozen lines is all a
// browser needs to run them, so the daemon builds that script at start-up
// instead of the repository carrying a copy of xterm.js.
func bundle(modulesDir, fitFile string) ([]byte, error) {
	lib := filepath.Join(modulesDir, "lib")
	mods := map[string][]byte{}
	err := filepath.WalkDir(lib, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".test.js") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(lib, p)
		mods[strings.TrimSuffix(filepath.ToSlash(rel), ".js")] = src
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read xterm.js modules: %w", err)
	}
	if _, ok := mods["public/Terminal"]; !ok {
		return nil, fmt.Errorf("read xterm.js modules: %s has no public/Terminal.js", lib)
	}
	fit, err := os.ReadFile(fitFile)
	if err != nil {
		return nil, fmt.Errorf("read the xterm.js fit addon: %w", err)
	}
	mods["addons/fit/fit"] = fit

	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString(loader)
	for _, n := range names {
		fmt.Fprintf(&b, "defs[%s] = function (require, module, exports) {\n", strconv.Quote(n))
		b.Write(mods[n])
		b.WriteString("\n};\n")
	}
	b.WriteString("window.Terminal = load(\"public/Terminal\").Terminal;\n")
	b.WriteString("window.Terminal.applyAddon(load(\"addons/fit/fit\"));\n})();\n")
	return b.Bytes(), nil
}

// loader resolves require paths relative to the requiring module, as
// Node does for "./x" and "../x", and runs each module once.
const loader = `// xterm.js ` + "(MIT)" + `, from Debian's node-xterm and libjs-xterm, wrapped by the runtime daemon.
(function () {
var defs = Object.create(null), cache = Object.create(null);
function resolve(from, p) {
  var parts = from.split("/");
  parts.pop();
  p.split("/").forEach(function (s) {
    if (s === "..") { parts.pop(); } else if (s !== "." && s !== "") { parts.push(s); }
  });
  return parts.join("/").replace(/\.js$/, "");
}
function load(name) {
  if (cache[name]) { return cache[name].exports; }
  var f = defs[name];
  if (!f) { throw new Error("xterm.js: no module " + name); }
  var m = { exports: {} };
  cache[name] = m;
  f(function (p) { return load(resolve(name, p)); }, m, m.exports);
  return m.exports;
}
`
