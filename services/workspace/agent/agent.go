// Package agent turns a configured coding agent (Claude Code, Codex, any
// CLI the image or the user installs) and a prompt into the command line of
// a run. The prompt is one argument of that command line, never text a
// shell reads.
package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

// Placeholder is replaced by the prompt in each argument of a template.
const Placeholder = "{prompt}"

// Errors of Argv.
var (
	ErrUnknown      = errors.New("no such agent")
	ErrPromptEmpty  = errors.New("prompt is required")
	ErrNotInstalled = errors.New("the agent's command is not installed in the workspace")
)

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Set maps an agent's name to its command-line template.
type Set map[string][]string

// Default are the agents a workspace knows without configuration; each runs
// only where its CLI is installed.
var Default = Set{
	"claude": {"claude", "-p", Placeholder},
	"codex":  {"codex", "exec", Placeholder},
}

// Parse reads a JSON object of name → argv template, e.g.
// {"claude": ["claude", "-p", "{prompt}"]}, and validates it.
func Parse(js string) (Set, error) {
	var s Set
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf(`agents: want a JSON object such as {"claude": ["claude", "-p", "{prompt}"]}: %w`, err)
	}
	return s, s.Validate()
}

// Validate checks every name and template: a template names a command and
// carries the placeholder somewhere.
func (s Set) Validate() error {
	for name, argv := range s {
		if !namePattern.MatchString(name) {
			return fmt.Errorf("agents: name %q must be 1-32 lower-case letters, digits, '_' or '-'", name)
		}
		if len(argv) == 0 || argv[0] == "" {
			return fmt.Errorf("agents: %s: the command line must name a command", name)
		}
		if !slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, Placeholder) }) {
			return fmt.Errorf("agents: %s: the command line must carry %s where the prompt goes", name, Placeholder)
		}
	}
	return nil
}

// Argv is the command line of a run of agent name with prompt.
func (s Set) Argv(name, prompt string) ([]string, error) {
	tmpl, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknown, name, strings.Join(s.names(), ", "))
	}
	if strings.TrimSpace(prompt) == "" {
		return nil, ErrPromptEmpty
	}
	if _, err := exec.LookPath(tmpl[0]); err != nil {
		return nil, fmt.Errorf("%w: %s runs %q, which is not on PATH; install it in the image or the workspace", ErrNotInstalled, name, tmpl[0])
	}
	argv := make([]string, len(tmpl))
	for i, a := range tmpl {
		argv[i] = strings.ReplaceAll(a, Placeholder, prompt)
	}
	return argv, nil
}

// Info describes a configured agent.
type Info struct {
	Name      string   `json:"name"`
	Argv      []string `json:"argv"`
	Installed bool     `json:"installed"`
}

// List describes every agent, sorted by name.
func (s Set) List() []Info {
	out := make([]Info, 0, len(s))
	for _, name := range s.names() {
		_, err := exec.LookPath(s[name][0])
		out = append(out, Info{Name: name, Argv: s[name], Installed: err == nil})
	}
	return out
}

func (s Set) names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
