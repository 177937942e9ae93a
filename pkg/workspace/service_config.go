package workspace

// ServiceConfig is what every provisioner needs to run one service of a
// workspace. A provisioner embeds it in its own settings of a service and
// adds what only it understands (the docker provisioner's user and
// read-only root, for example). The JSON names are the docker provisioner's
// config file's, so existing files load unchanged.
type ServiceConfig struct {
	// Image is the container image.
	Image string `json:"image"`
	// Port is the TCP port the service listens on inside its container; the
	// container gets it as $PORT.
	Port int `json:"port"`
	// CPUs is the CPU limit in cores (e.g. 1.5).
	CPUs float64 `json:"cpus"`
	// MemoryMB is the memory limit in MiB.
	MemoryMB int64 `json:"memory_mb"`
	// Pids is the maximum number of processes and threads.
	Pids int64 `json:"pids"`
}

// PerService holds one T for each service of a workspace, in the JSON shape
// {"runtime": ..., "terminal": ..., "browser": ..., "canvas": ...}.
type PerService[T any] struct {
	Runtime  T `json:"runtime"`
	Terminal T `json:"terminal"`
	Browser  T `json:"browser"`
	Canvas   T `json:"canvas"`
}

// Get returns the T of service s; nil for a name outside Services.
func (p *PerService[T]) Get(s Service) *T {
	switch s {
	case ServiceRuntime:
		return &p.Runtime
	case ServiceTerminal:
		return &p.Terminal
	case ServiceBrowser:
		return &p.Browser
	case ServiceCanvas:
		return &p.Canvas
	}
	return nil
}

// DataMount is where a workspace's volume is mounted in the runtime and
// terminal containers.
const DataMount = "/workspace"

// HomeDir is the workspace user's home in the runtime and terminal
// containers: a directory of the workspace volume, so dotfiles, shell
// history and tool caches survive stop and start (the root filesystem is
// read-only and recreated with the container). The runtime daemon creates
// it when missing.
const HomeDir = DataMount + "/.home"

// PreviewPortHeader carries, from the front door to the runtime daemon, the
// port of a preview (a request to <port>--<id>.<apps domain>): the daemon
// proxies such a request to that port inside the workspace. The front door
// sets it on preview requests and removes it from every other one.
const PreviewPortHeader = "X-Aileron-Preview-Port"

// Environment variables the provisioners give the workspace's daemons, so
// both backends name each route the same way.
const (
	// BrowserURLEnv is the runtime's route to the browser's DevTools
	// protocol (an http:// base URL: /json/version, /devtools/...). On
	// Docker it is the gateway's DevTools relay, on Kubernetes the browser's
	// Service; an agent's CDP client connects to it.
	BrowserURLEnv = "AILERON_BROWSER_URL"
	// RuntimeURLEnv is the canvas's route to the runtime daemon, whose files
	// API it reads what it serves through.
	RuntimeURLEnv = "AILERON_RUNTIME_URL"
)
