package test

import (
	"os"
	"path/filepath"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"aileron.dev/pkg/bus"
)

// TestNATSConfigParses hands the rendered nats.conf to nats-server's own
// parser (the code the server runs at start-up, `nats-server -t`), with the
// environment the pod gives it, and checks what it understood.
func TestNATSConfigParses(t *testing.T) {
	for _, sync := range []string{"always", "2m"} {
		t.Run("sync "+sync, func(t *testing.T) {
			m := render(t, installs[0], "--set", "nats.jetstream.syncInterval="+sync)
			p := installs[0].prefix()
			conf := get[corev1.Secret](t, m, "Secret", p+"nats-config").StringData["nats.conf"]
			auth := get[corev1.Secret](t, m, "Secret", p+"nats-auth").StringData
			path := filepath.Join(t.TempDir(), "nats.conf")
			require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
			t.Setenv("SERVER_NAME", p+"nats-1")

			opts, err := natsserver.ProcessConfigFile(path)
			require.NoError(t, err, "nats-server refuses the config:\n%s", conf)
			assert.Equal(t, p+"nats-1", opts.ServerName)
			assert.Equal(t, 4222, opts.Port)
			assert.Equal(t, 8222, opts.HTTPPort)
			assert.True(t, opts.JetStream)
			assert.Equal(t, "/data/jetstream", opts.StoreDir)
			assert.Equal(t, sync == "always", opts.SyncAlways)
			assert.Equal(t, int64(8_000_000_000), opts.JetStreamMaxStore, "NATS sizes are decimal: 8G")
			assert.Empty(t, opts.Username, "no shared user")
			requireRoleUsers(t, opts, auth)
			assert.Equal(t, "aileron", opts.Cluster.Name)
			assert.Equal(t, 6222, opts.Cluster.Port)
			assert.Equal(t, "route", opts.Cluster.Username)
			assert.Equal(t, auth["route-password"], opts.Cluster.Password)
			require.Len(t, opts.Routes, 3)
			for i, r := range opts.Routes {
				assert.Equal(t, "route", r.User.Username())
				assert.Equal(t, p+"nats-"+string(rune('0'+i))+"."+p+"nats-headless.aileron-system.svc:6222", r.Host)
			}
		})
	}
}

// requireRoleUsers: the server admits exactly the chart's services, each with
// its password from the auth Secret and the permissions pkg/bus gives its
// role, as nats-server parsed them.
func requireRoleUsers(t *testing.T, opts *natsserver.Options, auth map[string]string) {
	t.Helper()
	roles := map[string]bus.Role{}
	for _, r := range []bus.Role{bus.RoleAPI, bus.RoleFirewall, bus.RoleK8sProvisioner} {
		roles[r.User] = r
	}
	require.Len(t, opts.Users, len(roles))
	for _, u := range opts.Users {
		r, ok := roles[u.Username]
		require.True(t, ok, "unexpected NATS user %q", u.Username)
		assert.Equal(t, auth[u.Username+"-password"], u.Password, u.Username)
		want := r.Permissions()
		require.NotNil(t, u.Permissions, u.Username)
		assert.Equal(t, want.Publish, u.Permissions.Publish.Allow, "%s publish", u.Username)
		assert.Equal(t, want.Subscribe, u.Permissions.Subscribe.Allow, "%s subscribe", u.Username)
		assert.Empty(t, u.Permissions.Publish.Deny, u.Username)
	}
}
