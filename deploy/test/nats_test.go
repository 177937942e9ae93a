package test

import (
	"os"
	"path/filepath"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
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
			assert.Equal(t, "aileron", opts.Username)
			assert.Equal(t, auth["password"], opts.Password)
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
