package reaper

import (
	"context"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReapsOrphansNotOwnedChildren makes the test process a subreaper, so
// the shell's background sleep comes to it as it would to PID 1, and checks
// that the orphan is reaped while a command started through the reaper still
// gets its own exit status.
func TestReapsOrphansNotOwnedChildren(t *testing.T) {
	require.NoError(t, SetSubreaper())
	r := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	var out strings.Builder
	sh := osexec.Command("sh", "-c", "sleep 0.2 >/dev/null 2>&1 & echo $!")
	sh.Stdout = &out
	require.NoError(t, r.Start(sh))
	require.NoError(t, sh.Wait())
	r.Done(sh.Process.Pid)
	orphan, err := strconv.Atoi(strings.TrimSpace(out.String()))
	require.NoError(t, err)

	for range 20 {
		cmd := osexec.Command("sh", "-c", "exit 7")
		require.NoError(t, r.Start(cmd))
		err := cmd.Wait()
		r.Done(cmd.Process.Pid)
		require.Equal(t, 7, cmd.ProcessState.ExitCode(), "owned child's status kept (err %v)", err)
	}

	require.Eventually(t, func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(orphan))
		return os.IsNotExist(err)
	}, 5*time.Second, 20*time.Millisecond, "orphan %d reaped", orphan)
}
