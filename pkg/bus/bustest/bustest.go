// Package bustest starts an embedded nats-server whose users are the
// services' roles (bus.Roles) with their permissions, for tests that run a
// service under its own NATS user and check what that user is refused.
package bustest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
)

// Admin is the user of the test itself: no permission limits.
const Admin = "admin"

// Server is a running embedded nats-server with one user per role and Admin.
type Server struct {
	*server.Server
	passwords map[string]string
}

// Start starts the server (JetStream in a temporary directory, a free port)
// and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn is Start with JetStream in storeDir.
func StartIn(t testing.TB, storeDir string) *Server {
	t.Helper()
	s := &Server{passwords: map[string]string{}}
	users := []*server.User{{Username: Admin, Password: s.password(Admin)}}
	for _, r := range bus.Roles() {
		users = append(users, bus.ServerUser(r, s.password(r.User)))
	}
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: storeDir, Port: -1, Sync: "always", Users: users})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	s.Server = ns
	return s
}

func (s *Server) password(user string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	s.passwords[user] = hex.EncodeToString(b)
	return s.passwords[user]
}

// URL is the server's URL with user's name and password, what a service
// gets in AILERON_NATS_URL.
func (s *Server) URL(user string) string {
	u, err := url.Parse(s.ClientURL())
	if err != nil {
		panic(err)
	}
	u.User = url.UserPassword(user, s.passwords[user])
	return u.String()
}

// Conn is a client logged in as one user that keeps the permission
// violations the server reports to it.
type Conn struct {
	NC         *nats.Conn
	JS         jetstream.JetStream
	violations chan error
}

// Connect logs in as role's user, with the role's client name and inbox, as
// the service does; it closes when the test ends.
func (s *Server) Connect(t testing.TB, role bus.Role) *Conn {
	t.Helper()
	return s.connect(t, role.User, func(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
		return bus.ConnectAs(url, role, opts...)
	})
}

// ConnectAdmin logs in as Admin.
func (s *Server) ConnectAdmin(t testing.TB) *Conn {
	t.Helper()
	return s.connect(t, Admin, func(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
		return bus.Connect(url, t.Name(), opts...)
	})
}

func (s *Server) connect(t testing.TB, user string, dial func(string, ...nats.Option) (*nats.Conn, jetstream.JetStream, error)) *Conn {
	c := &Conn{violations: make(chan error, 64)}
	nc, js, err := dial(s.URL(user), nats.PermissionErrOnSubscribe(true),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case c.violations <- err:
			default:
			}
		}))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	c.NC, c.JS = nc, js
	return c
}

// RequireRefused waits (at most 5 s) until the server reports that it
// refused op ("Publish" or "Subscription") on subject to this client.
func (c *Conn) RequireRefused(t testing.TB, op, subject string) {
	t.Helper()
	want := fmt.Sprintf("Permissions Violation for %s to %q", op, subject)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-c.violations:
			if strings.Contains(err.Error(), want) {
				require.ErrorIs(t, err, nats.ErrPermissionViolation)
				return
			}
		case <-deadline:
			t.Fatalf("no permission violation %q reported", want)
		}
	}
}
