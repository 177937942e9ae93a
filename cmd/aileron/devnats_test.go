package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/api/gateway"
)

// listening returns the TCP addresses this process listens on, read from
// /proc: the sockets of /proc/self/fd in state LISTEN in /proc/net/tcp{,6}.
func listening(t *testing.T) map[string]bool {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	out := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			ipHex, portHex, _ := strings.Cut(fields[1], ":")
			port, err := strconv.ParseUint(portHex, 16, 16)
			require.NoError(t, err)
			ip, err := hex.DecodeString(ipHex)
			require.NoError(t, err)
			// /proc prints each 32-bit word in host (little-endian) order.
			for i := 0; i+4 <= len(ip); i += 4 {
				ip[i], ip[i+1], ip[i+2], ip[i+3] = ip[i+3], ip[i+2], ip[i+1], ip[i]
			}
			out[net.JoinHostPort(net.IP(ip).String(), strconv.Itoa(int(port)))] = true
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
	return out
}

// TestDevNATSIsNoTCPDoor: `aileron dev` listens on its REST and gRPC ports
// and nothing else (its NATS is in-process), writes no NATS credentials, and
// every service still works through that NATS: a workspace created over REST
// gets its effective firewall policy from the firewall service.
func TestDevNATSIsNoTCPDoor(t *testing.T) {
	before := listening(t)
	dir := t.TempDir()
	base := startDev(t, "--docker=off", "--data-dir", dir)
	opened := []string{}
	for addr := range listening(t) {
		if !before[addr] {
			opened = append(opened, addr)
		}
	}
	require.Len(t, opened, 2, "only REST and gRPC listen: %v", opened)
	require.Contains(t, opened, strings.TrimPrefix(base, "http://"))
	for _, addr := range opened {
		require.NotContains(t, addr, ":4222", "the NATS port is closed")
	}
	_, err := os.Stat(filepath.Join(dir, natsURLFile))
	require.ErrorIs(t, err, os.ErrNotExist, "no NATS credentials are written without a listener")

	w := restCreate(t, base, `{"name": "my-workspace", "provisioner": "docker"}`)
	id := w["id"].(string)
	require.Eventually(t, func() bool {
		fw := getJSON(t, base+"/api/v1/workspaces/"+id+"/firewall")
		domains, _ := fw["status"].(map[string]any)["workspace_effective_allowed_domains"].([]any)
		return len(domains) > 0
	}, 20*time.Second, 50*time.Millisecond, "the firewall service answers through the in-process NATS")
}

// TestDevNATSListenerNeedsTheToken: --nats-port opens a listener for outside
// consumers that refuses a client without the token from <data-dir>/nats.url
// (owner-only) and serves one with it.
func TestDevNATSListenerNeedsTheToken(t *testing.T) {
	dir := t.TempDir()
	startDev(t, "--docker=off", "--data-dir", dir, "--nats-port", "-1")
	file := filepath.Join(dir, natsURLFile)
	st, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "only the owner may read the token")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	u, err := url.Parse(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	require.NotEmpty(t, u.User.Username())
	require.True(t, listening(t)[u.Host], "the listener is the one the file names: %s", u.Host)

	_, err = nats.Connect("nats://"+u.Host, nats.Timeout(5*time.Second))
	require.ErrorIs(t, err, nats.ErrAuthorization, "no token, no connection")
	_, err = nats.Connect("nats://wrong@"+u.Host, nats.Timeout(5*time.Second))
	require.ErrorIs(t, err, nats.ErrAuthorization)
	nc, err := nats.Connect(u.String(), nats.Timeout(5*time.Second))
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	_, err = js.StreamInfo("AILERON")
	require.NoError(t, err, "the token holder sees the stream")
}

// TestDevAllowedHosts: --allowed-hosts (or AILERON_ALLOWED_HOSTS) reaches the
// REST port of `aileron dev`: a DNS-rebinding Host and a cross-site
// text/plain POST are refused and nothing is written; the README's curl and
// a configured name are served.
func TestDevAllowedHosts(t *testing.T) {
	t.Setenv("AILERON_ALLOWED_HOSTS", "dev.example.com, *.lab.example")
	base := startDev(t, "--docker=off")
	post := func(host string, header map[string]string, body string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodPost, base+"/api/v1/workspaces", strings.NewReader(body))
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out := map[string]any{}
		data, _ := io.ReadAll(resp.Body)
		require.NoError(t, json.Unmarshal(data, &out), "%s", data)
		return resp.StatusCode, out
	}
	code, body := post("evil.example", map[string]string{"Content-Type": "application/json"}, `{"name": "rebound"}`)
	require.Equal(t, http.StatusMisdirectedRequest, code, "%v", body)
	require.Equal(t, "HOST_NOT_ALLOWED", body["code"])
	code, body = post("", map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, `{"name": "csrf"}`)
	require.Equal(t, http.StatusForbidden, code, "%v", body)
	require.Equal(t, "REQUEST_CROSS_SITE", body["code"])
	list := getJSON(t, base+"/api/v1/workspaces")
	require.Empty(t, list["workspaces"], "refused requests wrote nothing")

	code, body = post("", map[string]string{"Content-Type": "application/json"}, `{"name": "my-workspace", "provisioner": "docker"}`)
	require.Equal(t, http.StatusCreated, code, "the README's curl: %v", body)
	code, body = post("box.lab.example:3001", map[string]string{"Content-Type": "application/json"}, `{"name": "lab"}`)
	require.Equal(t, http.StatusCreated, code, "a name from AILERON_ALLOWED_HOSTS: %v", body)
}

func TestAllowedHostsFlag(t *testing.T) {
	cfg, err := parseDev([]string{"--allowed-hosts", "A.example.com,*.b.example", "--allowed-hosts", "c.example."}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, gateway.Protection{AllowedHosts: []string{"a.example.com", "*.b.example", "c.example"}}, cfg.Protection)
	for _, bad := range []string{"http://x.example", "x.example:3001", "*", "*.", "a.*.example", "x.example/path"} {
		_, err := parseDev([]string{"--allowed-hosts", bad}, io.Discard)
		require.ErrorContains(t, err, "allowed-hosts", bad)
	}
}
