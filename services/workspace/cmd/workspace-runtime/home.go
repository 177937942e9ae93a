package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// ensureHome creates the home directory named by $HOME when it is missing,
// private to the workspace user. The docker provisioner points HOME into the
// workspace volume (/workspace/.home), which starts empty, so that dotfiles,
// shell history and tool caches survive a stop and start. A home that cannot
// be made is logged, not fatal: commands still run, only tools that write to
// their home fail.
func ensureHome(home string, log *slog.Logger) {
	if home == "" || !filepath.IsAbs(home) {
		return
	}
	if _, err := os.Stat(home); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		log.Warn("cannot create the home directory", slog.String("home", home), slog.Any("error", err))
		return
	}
	log.Info("created the home directory", slog.String("home", home))
}
