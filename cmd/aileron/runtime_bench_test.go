package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/workspace"
	dockerprov "aileron.dev/services/docker-provisioner/provisioner"
)

// BenchmarkRuntimeLatency measures, on `aileron dev` with the real images,
// what a person or an agent feels through the front door (bearer token,
// owner check, ingress, daemon):
//   - exec: POST /v1/exec of `true` until its exit event, side by side with
//     what one would do by hand, `docker exec` of the same command through
//     the Docker API (create, attach, start, read to the end, inspect);
//   - echo: one keystroke typed into a terminal's WebSocket until the
//     shell's echo of it comes back.
//
// It reports p50 and p95 of each and the exec ratio. Run with -benchtime=Nx:
//
//	go test ./cmd/aileron -run '^$' -bench BenchmarkRuntimeLatency -benchtime 200x
func BenchmarkRuntimeLatency(b *testing.B) {
	buildImages(b)
	base := startDev(b, "--docker=on")
	w := restCreate(b, base, `{"name": "bench-latency", "provisioner": "docker"}`)
	id := w["id"].(string)
	b.Cleanup(func() { restDelete(b, base, id) })
	restWaitState(b, base, id, "running")
	rt := newServiceDoor(b, base, "runtime", id)
	term := newServiceDoor(b, base, "terminal", id)

	docker, err := dockerprov.NewDockerClient()
	require.NoError(b, err)
	defer docker.Close()
	runtimeContainer := dockerprov.ContainerName(workspace.ServiceRuntime, id)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	keys := attachTerminal(b, ctx, term)

	var viaDoor, byHand, echo []time.Duration
	for b.Loop() {
		start := time.Now()
		r := rt.exec(map[string]any{"argv": []string{"true"}})
		viaDoor = append(viaDoor, time.Since(start))
		require.Equal(b, 0, *r.exit.ExitCode)

		start = time.Now()
		dockerExecTrue(b, ctx, docker, runtimeContainer)
		byHand = append(byHand, time.Since(start))

		echo = append(echo, keys.echo(b, ctx))
	}
	report := func(name string, ds []time.Duration) {
		b.ReportMetric(float64(pct(ds, 50).Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(pct(ds, 95).Microseconds())/1000, name+"-p95-ms")
	}
	report("exec-front-door", viaDoor)
	report("exec-docker", byHand)
	report("keystroke-echo", echo)
	b.ReportMetric(float64(pct(viaDoor, 50))/float64(pct(byHand, 50)), "exec-ratio-p50")
}

// dockerExecTrue runs `true` in the container as `docker exec` does:
// create, attach, start, read to the end, inspect the exit code.
func dockerExecTrue(b *testing.B, ctx context.Context, docker *dockerclient.Client, name string) {
	ex, err := docker.ContainerExecCreate(ctx, name, container.ExecOptions{Cmd: []string{"true"}, AttachStdout: true, AttachStderr: true})
	require.NoError(b, err)
	att, err := docker.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	require.NoError(b, err)
	_, err = io.Copy(io.Discard, att.Reader)
	att.Close()
	require.NoError(b, err)
	st, err := docker.ContainerExecInspect(ctx, ex.ID)
	require.NoError(b, err)
	require.Equal(b, 0, st.ExitCode)
}

// terminalKeys is a terminal's WebSocket through the front door with every
// output frame read into a channel.
type terminalKeys struct {
	conn *websocket.Conn
	out  chan []byte
}

// attachTerminal creates a terminal on the terminal service and attaches
// to it, then waits for the shell's first output (its prompt).
func attachTerminal(b *testing.B, ctx context.Context, term serviceDoor) *terminalKeys {
	resp := term.do(http.MethodPost, "/v1/terminals", "application/json", strings.NewReader(`{"id": "bench"}`))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(b, http.StatusCreated, resp.StatusCode, "%s", body)
	c, _, err := websocket.Dial(ctx, strings.Replace(term.base, "http://", "ws://", 1)+"/v1/terminals/bench/attach",
		&websocket.DialOptions{Host: term.host, HTTPHeader: http.Header{"Authorization": {"Bearer dev"}}})
	require.NoError(b, err)
	b.Cleanup(func() { c.CloseNow() })
	k := &terminalKeys{conn: c, out: make(chan []byte, 1024)}
	go func() {
		defer close(k.out)
		for {
			_, p, err := c.Read(context.Background())
			if err != nil {
				return
			}
			k.out <- p
		}
	}()
	select {
	case <-k.out:
	case <-ctx.Done():
		b.Fatal("the terminal never printed its prompt")
	}
	time.Sleep(500 * time.Millisecond) // let the prompt finish
	for len(k.out) > 0 {
		<-k.out
	}
	return k
}

// echo types one key and returns how long until its echo came back; then
// erases it (untimed) so the line stays empty.
func (k *terminalKeys) echo(b *testing.B, ctx context.Context) time.Duration {
	start := time.Now()
	require.NoError(b, k.conn.Write(ctx, websocket.MessageBinary, []byte("a")))
	k.await(b, ctx, []byte("a"))
	d := time.Since(start)
	require.NoError(b, k.conn.Write(ctx, websocket.MessageBinary, []byte{0x7f}))
	k.await(b, ctx, []byte("\b"))
	return d
}

func (k *terminalKeys) await(b *testing.B, ctx context.Context, want []byte) {
	for {
		select {
		case p, ok := <-k.out:
			require.True(b, ok, "the terminal closed")
			if bytes.Contains(p, want) {
				return
			}
		case <-ctx.Done():
			b.Fatalf("no echo of %q", want)
		}
	}
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
