package provisioner_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/docker-provisioner/provisioner"
)

// fakeNetImage is built from cmd/fake-internet by buildFakeNetImage.
const fakeNetImage = "aileron/fake-internet:dev"

var (
	fakeNetOnce sync.Once
	fakeNetErr  error
)

// buildFakeNetImage builds the fake internet's FROM scratch image once per
// test process, the way hack/build-images.sh builds the stub.
func buildFakeNetImage(t *testing.T) {
	t.Helper()
	fakeNetOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			fakeNetErr = err
			return
		}
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w",
			"-o", filepath.Join(dir, "rootfs", "fake-internet"), "../cmd/fake-internet")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fakeNetErr = fmt.Errorf("go build fake-internet: %w\n%s", err, out)
			return
		}
		dockerfile := "FROM scratch\nCOPY rootfs/ /\nUSER 65532:65532\nENTRYPOINT [\"/fake-internet\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			fakeNetErr = err
			return
		}
		img := exec.CommandContext(ctx, "docker", "build", "--quiet", "--tag", fakeNetImage, dir)
		img.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := img.CombinedOutput(); err != nil {
			fakeNetErr = fmt.Errorf("docker build %s: %w\n%s", fakeNetImage, err, out)
		}
	})
	require.NoError(t, fakeNetErr)
}

// testCA issues the fake internet's certificate; the workspace side trusts
// it through the stub's /fetch?ca=.
type testCA struct {
	certPEM string
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "aileron egress e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), cert: cert, key: key}
}

// leaf returns a server certificate and key (PEM) for names.
func (ca *testCA) leaf(t *testing.T, names ...string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kd, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
}

// dnsRecord mirrors cmd/fake-internet's record.
type dnsRecord struct {
	A      []netip.Addr   `json:"a,omitempty"`
	AAAA   []netip.Addr   `json:"aaaa,omitempty"`
	CNAME  string         `json:"cname,omitempty"`
	Rotate [][]netip.Addr `json:"rotate,omitempty"`
}

// fakeServer describes one fake-internet container.
type fakeServer struct {
	name     string // container name, also FAKENET_NAME
	network  string
	ip       netip.Addr
	instance string
	cert     string
	key      string
	dns      map[string]dnsRecord // nil: no DNS server
}

// startFakeServer runs a fake-internet container with a static address on
// one network, hardened like a workspace container apart from the sysctl
// that lets uid 65532 bind ports 53, 80 and 443, and waits until it serves.
// Its labels make the harness's cleanup remove it.
func startFakeServer(t *testing.T, s fakeServer) {
	t.Helper()
	ctx := context.Background()
	env := []string{"FAKENET_NAME=" + s.name, "FAKENET_TLS_CERT=" + s.cert, "FAKENET_TLS_KEY=" + s.key}
	if s.dns != nil {
		spec, err := json.Marshal(s.dns)
		require.NoError(t, err)
		env = append(env, "FAKENET_DNS="+string(spec))
	}
	pids := int64(64)
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(s.network), CapDrop: []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges:true"}, ReadonlyRootfs: true,
		Sysctls:   map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
		Resources: container.Resources{Memory: 64 << 20, MemorySwap: 64 << 20, NanoCPUs: 5e8, PidsLimit: &pids},
	}
	cfg := &container.Config{Image: fakeNetImage, Env: env, Labels: map[string]string{
		provisioner.LabelManagedBy: provisioner.ManagedBy, provisioner.LabelInstance: s.instance,
		provisioner.LabelService: "e2e-" + s.name,
	}}
	nets := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		s.network: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: s.ip.String()}},
	}}
	resp, err := docker.ContainerCreate(ctx, cfg, host, nets, nil, s.name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = docker.ContainerRemove(context.Background(), resp.ID, container.RemoveOptions{Force: true})
	})
	require.NoError(t, docker.ContainerStart(ctx, resp.ID, container.StartOptions{}))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Len(c, fakeEvents(t, s.name, "ready"), 1, "%s never became ready: %v", s.name, fakeEvents(t, s.name, ""))
	}, waitFor, tick)
}

// fakeEvent is one line of a fake-internet container's event log.
type fakeEvent struct {
	Event  string `json:"event"`
	Name   string `json:"name"`   // dns: the query name
	Type   string `json:"type"`   // dns: A, AAAA...
	Host   string `json:"host"`   // http: Host header
	SNI    string `json:"sni"`    // tls, http: server name
	TLS    bool   `json:"tls"`    // http: over TLS
	Remote string `json:"remote"` // peer address
	Local  string `json:"local"`  // accept: local address
}

// remoteIP is the peer address of the event.
func (e fakeEvent) remoteIP() netip.Addr {
	ap, err := netip.ParseAddrPort(e.Remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// fakeEvents reads a fake-internet container's events of one kind ("" for all).
func fakeEvents(t *testing.T, containerName, kind string) []fakeEvent {
	t.Helper()
	var out []fakeEvent
	for _, line := range containerStdout(t, containerName) {
		var e fakeEvent
		if json.Unmarshal(line, &e) == nil && (kind == "" || e.Event == kind) {
			out = append(out, e)
		}
	}
	return out
}

// settled counts log events once the count stops moving: the engine copies
// a container's output to its log asynchronously, so the line of the last
// request may arrive a moment after its response.
func settled(count func() int) int {
	n := count()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		m := count()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// settledRead reads log evidence once the log has settled (see settled), for
// assertions that something is absent or that everything present qualifies:
// a line still on its way would otherwise go unseen.
func settledRead[T any](read func() []T) []T {
	var got []T
	settled(func() int { got = read(); return len(got) })
	return got
}

// eventuallyRead polls log evidence until enough (a predicate on what was
// read) has arrived, within waitFor, for assertions that something is there.
func eventuallyRead[T any](t *testing.T, read func() []T, enough func([]T) bool, msg string) []T {
	t.Helper()
	var got []T
	require.Eventually(t, func() bool { got = read(); return enough(got) }, waitFor, tick, msg)
	return settledRead(read)
}

// containerStdout returns a container's log lines (stdout and stderr).
func containerStdout(t *testing.T, name string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := docker.ContainerLogs(ctx, name, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	defer rc.Close()
	var stdout bytes.Buffer
	_, err = stdcopy.StdCopy(&stdout, &stdout, rc)
	require.NoError(t, err)
	var lines [][]byte
	sc := bufio.NewScanner(io.Reader(&stdout))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}
