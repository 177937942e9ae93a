package exec

import (
	"strconv"
	"strings"
	"syscall"
)

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2, "PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM,
	"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT, "TSTP": syscall.SIGTSTP,
	"WINCH": syscall.SIGWINCH,
}

// ParseSignal reads a signal name with or without SIG (TERM, SIGTERM).
func ParseSignal(name string) (syscall.Signal, bool) {
	s, ok := signals[strings.TrimPrefix(strings.ToUpper(name), "SIG")]
	return s, ok
}

// SignalName is the short name of sig (TERM), or its number.
func SignalName(sig syscall.Signal) string {
	for n, s := range signals {
		if s == sig {
			return n
		}
	}
	return strconv.Itoa(int(sig))
}
