package main

import (
	"errors"
	"os/exec"
	"runtime"
)

// openBrowser hands url to the desktop's opener.
func openBrowser(url string) error {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return errors.New(name + " is not installed")
	}
	return exec.Command(path, url).Start()
}
