// Package flagenv gives command-line flags defaults from AILERON_*
// environment variables, so every service is configurable both ways.
package flagenv

import (
	"os"
	"strconv"
	"time"
)

// String returns the environment variable k, or def when it is unset or empty.
func String(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Int returns the integer in k, or def when it is unset or not an integer.
func Int(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return n
	}
	return def
}

// Duration returns the duration in k, or def when it is unset or malformed.
func Duration(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return d
	}
	return def
}
