// Package daemon holds what the commands of the workspace's daemons
// (workspace-runtime, workspace-browser, workspace-canvas) share: a
// process's life from its flags to its exit, and the refusal to run as
// root.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"aileron.dev/pkg/config"
)

// Main runs a daemon's command: it parses the arguments and environment
// with parse (exit 2 on an error), logs with the configuration's log
// settings, and runs run until SIGINT or SIGTERM cancels its context
// (exit 1 when it fails).
func Main[C any](name string, parse func(args []string, getenv func(string) string) (C, error), logOf func(C) config.Log,
	run func(context.Context, C, *slog.Logger) error) {
	cfg, err := parse(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	log := logOf(cfg).Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error(name+" failed", slog.Any("error", err))
		stop()
		os.Exit(1)
	}
}

// RefuseRoot returns an error when euid is root's, saying why the daemon
// must not run as root.
func RefuseRoot(euid int, why string) error {
	if euid == 0 {
		return errors.New("refusing to run as root: " + why)
	}
	return nil
}
