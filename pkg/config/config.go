// Package config is the one way an Aileron binary reads its configuration:
// command-line flags, each of which can also be set by an environment
// variable named after it (--nats-url is AILERON_NATS_URL). A flag given on
// the command line wins over its variable; a variable the flag cannot parse
// is an error naming both. The flag groups every service shares (NATS,
// logging, health endpoints) and the logger they configure live here too.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Prefix starts the environment variable of every flag unless a binary
// keeps names of its own (the egress gateway's EGRESS_*).
const Prefix = "AILERON_"

// ErrMalformed marks an environment variable its flag refuses.
var ErrMalformed = errors.New("malformed value")

// Set is the flag set of one binary. Flags are registered on the embedded
// flag.FlagSet as usual; Parse then fills every flag the command line leaves
// out from its environment variable.
type Set struct {
	*flag.FlagSet
	prefix    string
	env       map[string][]string // flag → variables, where not derived
	aliases   map[string]string   // alias → flag it sets
	annotated bool
}

// NewSet returns an empty set for the named binary whose variables start
// with prefix (Prefix for the Aileron services). Errors are returned, not
// fatal, so tests and `aileron dev` can report them.
func NewSet(name, prefix string) *Set {
	return &Set{
		FlagSet: flag.NewFlagSet(name, flag.ContinueOnError),
		prefix:  prefix,
		env:     map[string][]string{},
		aliases: map[string]string{},
	}
}

// EnvName derives the environment variable of a flag: prefix, then the name
// upper-cased with dashes as underscores (--nats-url → AILERON_NATS_URL).
func EnvName(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Env returns the variables that set the named flag, first the one the help
// shows; none for an alias or a flag whose variable was turned off.
func (s *Set) Env(flagName string) []string {
	if _, ok := s.aliases[flagName]; ok {
		return nil
	}
	if names, ok := s.env[flagName]; ok {
		return names
	}
	return []string{EnvName(s.prefix, flagName)}
}

// SetEnv replaces the derived variable of a flag with names, read in order,
// the first non-empty one winning. It keeps names that were documented before
// the rule existed (AILERON_HTTP_ADDR for --http); no names means the flag
// has no variable.
func (s *Set) SetEnv(flagName string, names ...string) {
	s.env[flagName] = names
}

// Alias registers alias as another name of the defined flag target, for names
// a deployment may still pass (a deprecated spelling, a chart's longer
// name). The alias has no variable of its own; giving it counts as giving
// target.
func (s *Set) Alias(alias, target string) {
	f := s.Lookup(target)
	if f == nil {
		panic("config: alias " + alias + " of undefined flag " + target)
	}
	s.Var(f.Value, alias, "alias of --"+target)
	s.aliases[alias] = target
}

// Parse parses args, then applies the environment (os.Getenv) to every flag
// args leaves out.
func (s *Set) Parse(args []string) error {
	return s.ParseEnv(args, os.Getenv)
}

// ParseEnv is Parse with the environment read through getenv, for tests.
func (s *Set) ParseEnv(args []string, getenv func(string) string) error {
	s.annotate()
	if err := s.FlagSet.Parse(args); err != nil {
		return err
	}
	return s.ApplyEnv(getenv)
}

// annotate appends each flag's variable to its usage once, so -h lists
// every variable without each registration spelling it out.
func (s *Set) annotate() {
	if s.annotated {
		return
	}
	s.annotated = true
	s.VisitAll(func(f *flag.Flag) {
		if names := s.Env(f.Name); len(names) > 0 {
			f.Usage += " (env " + strings.Join(names, " or ") + ")"
		}
	})
}

// ApplyEnv sets every flag that was not given on the command line and whose
// variable is non-empty (an empty variable counts as unset), through the
// flag's own parser: a value it refuses is an error naming the variable and
// the flag, never a silent default. A List takes a comma-separated value.
func (s *Set) ApplyEnv(getenv func(string) string) error {
	given := map[string]bool{}
	s.Visit(func(f *flag.Flag) {
		given[f.Name] = true
		if t, ok := s.aliases[f.Name]; ok {
			given[t] = true
		}
	})
	var errs []error
	s.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		for _, name := range s.Env(f.Name) {
			v := getenv(name)
			if v == "" {
				continue
			}
			if err := set(f.Value, v); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s=%q (flag --%s): %w", ErrMalformed, name, v, f.Name, err))
			}
			return
		}
	})
	return errors.Join(errs...)
}

func set(v flag.Value, s string) error {
	l, ok := v.(*List)
	if !ok {
		return v.Set(s)
	}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			if err := l.Set(item); err != nil {
				return err
			}
		}
	}
	return nil
}

// EnvNames lists every variable the set reads, sorted, for documentation
// and tests.
func (s *Set) EnvNames() []string {
	var out []string
	s.VisitAll(func(f *flag.Flag) { out = append(out, s.Env(f.Name)...) })
	slices.Sort(out)
	return slices.Compact(out)
}

// List is a repeatable flag: each use adds one value. Its environment
// variable holds the values separated by commas.
type List []string

// String joins the values, for the flag package's help.
func (l *List) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// Set adds one value.
func (l *List) Set(v string) error {
	*l = append(*l, v)
	return nil
}
