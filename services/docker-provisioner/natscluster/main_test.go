// Package natscluster_test runs the control plane (api, firewall service,
// docker provisioner) on a real three-node JetStream cluster in Docker and
// breaks the cluster under load: the stream leader is killed, a node is cut
// off its network and restarted. See docs/nats-cluster.md.
package natscluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"aileron.dev/services/docker-provisioner/provisioner"
)

// Labels of every container and network this package makes for the NATS
// cluster; the provisioner's own objects carry its instance label
// (instancePrefix + runID).
const (
	labelTest      = "aileron.dev/test"
	labelTestValue = "natscluster"
	labelRun       = "aileron.dev/test-run"
	instancePrefix = "nc-"
	natsImage      = "aileron/nats-server:dev"
)

var (
	// runID is the start time in hex Unix seconds: objects of a run that
	// died before its cleanup are recognised as stale an hour later.
	runID  = fmt.Sprintf("%x", time.Now().Unix())
	docker *client.Client
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	ctx := context.Background()
	if !provisioner.Available(ctx) {
		fmt.Fprintln(os.Stderr, "FAIL: no Docker engine answers on DOCKER_HOST or /var/run/docker.sock; these tests need a real engine")
		return 1
	}
	var err error
	if docker, err = provisioner.NewDockerClient(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: docker client:", err)
		return 1
	}
	defer docker.Close()
	for _, args := range [][]string{{"../hack/build-images.sh"}, {"../hack/build-images.sh", "--only", "nats"}} {
		if out, err := exec.Command("bash", args...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: build test images (%s): %v\n%s", strings.Join(args[1:], " "), err, out)
			return 1
		}
	}
	cleanup(ctx, stale)
	code := m.Run()
	cleanup(ctx, func(run string) bool { return run == runID })
	return code
}

// stale reports whether run (a runID) started more than an hour ago.
func stale(run string) bool {
	started, err := strconv.ParseInt(run, 16, 64)
	return err == nil && run != runID && time.Now().Unix()-started > int64(time.Hour/time.Second)
}

// cleanup force-removes the cluster containers and networks, and the
// provisioner's containers, networks and volumes, of every run that match
// accepts.
func cleanup(ctx context.Context, match func(run string) bool) {
	runOf := func(labels map[string]string) (string, bool) {
		if labels[labelTest] == labelTestValue {
			return labels[labelRun], true
		}
		if labels[provisioner.LabelManagedBy] == provisioner.ManagedBy && strings.HasPrefix(labels[provisioner.LabelInstance], instancePrefix) {
			return strings.TrimPrefix(labels[provisioner.LabelInstance], instancePrefix), true
		}
		return "", false
	}
	for _, f := range []filters.Args{
		filters.NewArgs(filters.Arg("label", labelTest+"="+labelTestValue)),
		filters.NewArgs(filters.Arg("label", provisioner.LabelManagedBy+"="+provisioner.ManagedBy)),
	} {
		if cs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err == nil {
			for _, c := range cs {
				if run, ok := runOf(c.Labels); ok && match(run) {
					_ = docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
				}
			}
		}
		if ns, err := docker.NetworkList(ctx, network.ListOptions{Filters: f}); err == nil {
			for _, n := range ns {
				if run, ok := runOf(n.Labels); ok && match(run) {
					_ = docker.NetworkRemove(ctx, n.ID)
				}
			}
		}
		if vs, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f}); err == nil {
			for _, v := range vs.Volumes {
				if run, ok := runOf(v.Labels); ok && match(run) {
					_ = docker.VolumeRemove(ctx, v.Name, true)
				}
			}
		}
	}
}
