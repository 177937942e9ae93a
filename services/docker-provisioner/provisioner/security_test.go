package provisioner_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/docker-provisioner/provisioner"
)

// TestContainersAreHardened inspects every container of a workspace and
// asserts the security defaults.
func TestContainersAreHardened(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	w := h.create("hardened", true)
	w = h.waitState(w.Id, "running")
	v, err := docker.ServerVersion(ctx)
	require.NoError(t, err)
	major, err := strconv.Atoi(strings.SplitN(v.Version, ".", 2)[0])
	require.NoError(t, err)
	oldEngine := major < 26 // 20.10 on this machine

	cs := containersOf(t, w.Id)
	require.Len(t, cs, 5)
	for name, c := range cs {
		requireHardened(t, w.Id, name, c)
		if name == provisioner.GatewayName(w.Id) {
			continue
		}
		requireIsolated(t, name, c)
		if oldEngine {
			require.Equal(t, []string{"127.0.0.1"}, c.HostConfig.DNS, "%s: no external resolver on an engine with CVE-2024-29018", name)
		}
	}
	// Siblings and the gateway resolve from extra hosts; on an affected engine
	// nothing else resolves at all.
	code, body := get(t, w.Services.Runtime.Endpoint+"resolve?name=gateway")
	require.Equal(t, http.StatusOK, code, body)
	if oldEngine {
		code, body = get(t, w.Services.Runtime.Endpoint+"resolve?name=proxy.golang.org")
		require.Equal(t, http.StatusBadGateway, code, "external name resolved inside the workspace: %s", body)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// requireHardened asserts the security defaults every container shares.
func requireHardened(t *testing.T, id, name string, c container.InspectResponse) {
	t.Helper()
	hc := c.HostConfig
	require.False(t, hc.Privileged, name)
	require.Empty(t, hc.Binds, "%s: host paths", name)
	for _, m := range c.Mounts {
		require.Equal(t, mount.TypeVolume, m.Type, "%s: only named volumes", name)
		require.NotContains(t, m.Source, "docker.sock", name)
		require.True(t, strings.HasPrefix(m.Name, "workspace-"), "%s mounts %s", name, m.Name)
	}
	require.Contains(t, hc.SecurityOpt, "no-new-privileges:true", name)
	for _, o := range hc.SecurityOpt {
		require.NotContains(t, o, "unconfined", "%s: default seccomp and AppArmor", name)
	}
	require.Equal(t, []string{"ALL"}, []string(hc.CapDrop), name)
	require.Empty(t, hc.CapAdd, name)
	require.Positive(t, hc.Memory, name)
	require.Positive(t, hc.NanoCPUs, name)
	require.NotNil(t, hc.PidsLimit, name)
	require.Positive(t, *hc.PidsLimit, name)
	require.True(t, hc.ReadonlyRootfs, name)
	require.NotEmpty(t, c.Config.User, name)
	require.False(t, strings.HasPrefix(c.Config.User, "0") || c.Config.User == "root", "%s runs as root", name)
	require.Equal(t, provisioner.ManagedBy, c.Config.Labels[provisioner.LabelManagedBy])
	require.Equal(t, id, c.Config.Labels[provisioner.LabelWorkspaceID])
	require.NotEqual(t, "host", string(hc.NetworkMode), name)
	require.False(t, hc.PidMode.IsHost() || hc.IpcMode.IsHost() || hc.UTSMode.IsHost(), name)
	for port, bindings := range hc.PortBindings {
		for _, b := range bindings {
			require.Equal(t, "127.0.0.1", b.HostIP, "%s publishes %s beyond loopback", name, port)
		}
	}
}

// requireIsolated asserts a service container sits only on an internal
// network, publishes nothing and is pointed at its gateway.
func requireIsolated(t *testing.T, name string, c container.InspectResponse) {
	t.Helper()
	require.Empty(t, c.HostConfig.PortBindings, "%s: only the gateway publishes a port", name)
	require.Len(t, c.NetworkSettings.Networks, 1, name)
	for netName := range c.NetworkSettings.Networks {
		n, err := docker.NetworkInspect(context.Background(), netName, network.InspectOptions{})
		require.NoError(t, err)
		require.True(t, n.Internal, "%s is on a network with a route out", name)
	}
	require.Contains(t, strings.Join(c.Config.Env, "\n"), "HTTPS_PROXY=http://", name)
}

// TestWorkspaceCannotReachTheHost: a host service listening on every
// interface is not reachable from a workspace container through the
// internal network's bridge address.
func TestWorkspaceCannotReachTheHost(t *testing.T) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	h := newHarness(t, nil, nil)
	h.startProvisioner()
	w := h.waitState(h.create("no-host", false).Id, "running")
	n, err := docker.NetworkInspect(context.Background(), provisioner.NetworkName("workspace", w.Id), network.InspectOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, n.IPAM.Config)
	hostSide := n.IPAM.Config[0].Gateway

	r := probe(t, w.Services.Runtime.Endpoint, "tcp", net.JoinHostPort(hostSide, port), "")
	require.False(t, r.OK, "the workspace reached the host at %s:%s", hostSide, port)
	require.Zero(t, accepted.Load())
	// Control: the listener is live.
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	require.NoError(t, err)
	c.Close()
	require.Eventually(t, func() bool { return accepted.Load() == 1 }, 5*time.Second, 20*time.Millisecond)
}
