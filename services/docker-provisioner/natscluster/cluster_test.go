package natscluster_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
)

// node is one nats-server container.
type node struct {
	name, ip, id string
}

// cluster is three nats-server containers on a network of their own, with
// fixed addresses so a node that is cut off and reconnected comes back where
// its peers and clients look for it. The test process reaches them at those
// addresses (the host routes to its bridge networks).
type cluster struct {
	t       testing.TB
	network string
	nodes   []*node
}

// startCluster starts the cluster and waits until JetStream has a meta leader.
func startCluster(t testing.TB) *cluster {
	t.Helper()
	ctx := context.Background()
	c := &cluster{t: t}
	labels := map[string]string{labelTest: labelTestValue, labelRun: runID}
	// A free /24 of 10.231.0.0/16: another run, or anything else on the
	// engine, may hold one; the engine refuses overlaps.
	var prefix string
	for attempt := 0; ; attempt++ {
		prefix = fmt.Sprintf("10.231.%d", rand.IntN(250)+1)
		name := fmt.Sprintf("aileron-natscluster-%s-%d", runID, attempt)
		resp, err := docker.NetworkCreate(ctx, name, network.CreateOptions{
			Driver: "bridge", Labels: labels,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: prefix + ".0/24"}}},
		})
		if err == nil {
			c.network = resp.ID
			break
		}
		require.Less(t, attempt, 20, "create the cluster network: %v", err)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			_ = docker.ContainerRemove(context.Background(), n.id, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
		_ = docker.NetworkRemove(context.Background(), c.network)
	})
	var routes []string
	for i := range 3 {
		n := &node{name: fmt.Sprintf("n%d", i+1), ip: fmt.Sprintf("%s.%d", prefix, 11+i)}
		c.nodes = append(c.nodes, n)
		routes = append(routes, fmt.Sprintf("nats://%s:6222", n.ip))
	}
	for _, n := range c.nodes {
		resp, err := docker.ContainerCreate(ctx, &container.Config{
			Image: natsImage, Cmd: []string{"-c", "/etc/aileron/nats.conf"}, Labels: labels,
		}, &container.HostConfig{}, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			c.network: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: n.ip}},
		}}, nil, fmt.Sprintf("aileron-nats-%s-%s", runID, n.name))
		require.NoError(t, err)
		n.id = resp.ID
		require.NoError(t, docker.CopyToContainer(ctx, n.id, "/etc/aileron", tarOf("nats.conf", natsConf(n.name, routes)), container.CopyToContainerOptions{}))
		require.NoError(t, docker.ContainerStart(ctx, n.id, container.StartOptions{}))
	}
	return c
}

// natsConf is the configuration of the chart (deploy/helm: aileron.nats.conf)
// without authentication: JetStream with sync_interval always, routes to
// every node.
func natsConf(name string, routes []string) string {
	return fmt.Sprintf(`server_name: %s
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
jetstream {
  store_dir: /tmp/jetstream
  max_file_store: 4G
  max_memory_store: 64M
  sync_interval: always
}
cluster {
  name: aileron
  listen: 0.0.0.0:6222
  ping_interval: "5s"
  ping_max: 3
  routes: [%s]
}
`, name, strings.Join(routes, ", "))
}

func tarOf(name, content string) *bytes.Buffer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Uid: 65532, Gid: 65532})
	_, _ = tw.Write([]byte(content))
	_ = tw.Close()
	return &buf
}

// URL is what every client is given: all three servers.
func (c *cluster) URL() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, "nats://"+n.ip+":4222")
	}
	return strings.Join(urls, ",")
}

func (c *cluster) byName(name string) *node {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	c.t.Fatalf("no node %q", name)
	return nil
}

// kill kills a node's server (SIGKILL: no goodbye to peers or clients).
func (c *cluster) kill(n *node) {
	c.t.Helper()
	require.NoError(c.t, docker.ContainerKill(context.Background(), n.id, "KILL"))
}

// start starts a killed node again on its store.
func (c *cluster) start(n *node) {
	c.t.Helper()
	require.NoError(c.t, docker.ContainerStart(context.Background(), n.id, container.StartOptions{}))
}

// partition takes the node off the network: peers and clients lose it
// without a reset, as when a machine or a link fails.
func (c *cluster) partition(n *node) {
	c.t.Helper()
	require.NoError(c.t, docker.NetworkDisconnect(context.Background(), c.network, n.id, true))
}

// heal puts the node back on the network at its address and restarts it.
func (c *cluster) heal(n *node) {
	c.t.Helper()
	ctx := context.Background()
	require.NoError(c.t, docker.NetworkConnect(ctx, c.network, n.id, &network.EndpointSettings{
		IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: n.ip},
	}))
	timeout := 10
	require.NoError(c.t, docker.ContainerRestart(ctx, n.id, container.StopOptions{Timeout: &timeout}))
}

// setup connects and creates the R3 streams and buckets, retrying while the
// cluster forms (no meta leader yet).
func (c *cluster) setup(within time.Duration) jetstream.JetStream {
	c.t.Helper()
	nc, js, err := bus.Connect(c.URL(), "natscluster-test")
	require.NoError(c.t, err)
	c.t.Cleanup(nc.Close)
	var last error
	ok := assert.Eventually(c.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		last = bus.Setup(ctx, js, bus.SetupConfig{Replicas: 3})
		return last == nil
	}, within, 500*time.Millisecond)
	if !ok {
		c.t.Fatalf("no R3 streams and buckets within %s: %v", within, last)
	}
	return js
}
