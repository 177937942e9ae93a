package provisioner

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.opentelemetry.io/otel/trace/noop"
)

// Docker is the subset of the Docker Engine API client the provisioner uses;
// *client.Client implements it.
type Docker interface {
	ServerVersion(ctx context.Context) (types.Version, error)
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)

	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerStop(ctx context.Context, containerID string, options container.StopOptions) error
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
	CopyFromContainer(ctx context.Context, containerID, srcPath string) (io.ReadCloser, container.PathStat, error)

	NetworkConnect(ctx context.Context, networkID, containerID string, config *network.EndpointSettings) error
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkInspect(ctx context.Context, networkID string, options network.InspectOptions) (network.Inspect, error)
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, networkID string) error

	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error

	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, refStr string, options image.PullOptions) (io.ReadCloser, error)
}

var _ Docker = (*client.Client)(nil)

// NewDockerClient connects to the engine named by DOCKER_HOST (the local
// socket by default), negotiating the API version.
//
// The client's own HTTP spans are off: with tracing on, each call through
// the provisioner is one span of its own ("docker ContainerCreate", see
// timedDocker), never a raw URL with a container id in it.
func NewDockerClient() (*client.Client, error) {
	return client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation(), client.WithTraceProvider(noop.NewTracerProvider()))
}

// Available reports whether a Docker engine answers on DOCKER_HOST (the
// local socket by default) within a short timeout. `aileron dev` uses it to
// decide whether to run the docker provisioner.
func Available(ctx context.Context) bool {
	c, err := NewDockerClient()
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = c.Ping(ctx)
	return err == nil
}

// dnsLeakFixed reports whether an engine version has the fix for
// CVE-2024-29018 (embedded DNS forwarding queries out of internal networks):
// 26.0 and later, and 25.0.4 and later 25.0 releases. Unparsable versions are
// treated as affected.
func dnsLeakFixed(version string) bool {
	major, minor, patch, ok := parseVersion(version)
	if !ok {
		return false
	}
	switch {
	case major >= 26:
		return true
	case major == 25 && minor == 0:
		return patch >= 4
	case major == 25:
		return true
	}
	return false
}

// parseVersion reads "20.10.24+dfsg1" or "v26.1.0-rc1" as 20, 10, 24.
func parseVersion(v string) (major, minor, patch int, ok bool) {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "+-~ "); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, 0, false
	}
	nums := make([]int, 3)
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return 0, 0, 0, false
		}
		nums[i] = n
	}
	return nums[0], nums[1], nums[2], true
}
