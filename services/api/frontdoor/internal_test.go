package frontdoor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCredentialExpiresAndIsBoundToItsKey(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := signer{key: []byte("k1")}
	c := claims{Workspace: "w", Service: "runtime", Subject: "alice", Generation: 3, Expires: now.Add(time.Minute).Unix()}
	v := s.sign(c)
	got, err := s.verify(v, now)
	require.NoError(t, err)
	require.Equal(t, c, got)
	_, err = s.verify(v, now.Add(time.Minute))
	require.ErrorIs(t, err, errCredential, "expired")
	_, err = signer{key: []byte("k2")}.verify(v, now)
	require.ErrorIs(t, err, errCredential, "signed with another key (a ticket is no session cookie)")
	_, err = s.verify(v[:len(v)-2], now)
	require.ErrorIs(t, err, errCredential)
}

func TestMatch(t *testing.T) {
	c := DefaultConfig()
	id := "abcdefghijklmnopqrst"
	tg, ours := c.match("runtime--" + id + ".localhost:3001")
	require.True(t, ours)
	require.Equal(t, &target{service: "runtime", id: id}, tg)
	tg, ours = c.match("TERMINAL--" + id + ".LOCALHOST.")
	require.True(t, ours)
	require.Equal(t, "terminal", string(tg.service))
	for _, h := range []string{"localhost:3001", "127.0.0.1", "evil.example", "runtime--" + id + ".localhost.evil.example", "a.b.localhost"} {
		tg, ours = c.match(h)
		require.False(t, ours && tg != nil, h)
	}
	_, ours = c.match("localhost:3001")
	require.False(t, ours)
	tg, ours = c.match("shell--" + id + ".localhost")
	require.True(t, ours)
	require.Nil(t, tg)
	require.Equal(t, "https://runtime--"+id+".apps.example.com", Config{Domain: "apps.example.com", Scheme: "https", Port: 443}.origin(&target{service: "runtime", id: id}, 3001))
	require.Equal(t, "http://runtime--"+id+".localhost:3001", c.origin(&target{service: "runtime", id: id}, 3001))

	// A preview: <port>--<id>, of the runtime.
	tg, ours = c.match("8000--" + id + ".localhost:3001")
	require.True(t, ours)
	require.Equal(t, previewTarget(id, 8000), tg)
	require.Equal(t, "http://8000--"+id+".localhost:3001", c.origin(tg, 3001))
	for _, bad := range []string{"0", "65536", "08000", "-1", "+80", "8000x"} {
		tg, ours = c.match(bad + "--" + id + ".localhost")
		require.True(t, ours, bad)
		require.Nil(t, tg, "%s names no port", bad)
	}
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	for name, c := range map[string]Config{
		"upper-case domain": {Domain: "Apps.Example.com", Scheme: "https", TicketTTL: time.Minute, SessionTTL: time.Hour},
		"domain with port":  {Domain: "localhost:3001", Scheme: "http", TicketTTL: time.Minute, SessionTTL: time.Hour},
		"scheme":            {Domain: "localhost", Scheme: "ftp", TicketTTL: time.Minute, SessionTTL: time.Hour},
		"ticket ttl":        {Domain: "localhost", Scheme: "http", TicketTTL: time.Hour, SessionTTL: time.Hour},
		"port":              {Domain: "localhost", Scheme: "http", Port: 70000, TicketTTL: time.Minute, SessionTTL: time.Hour},
	} {
		require.Error(t, c.Validate(), name)
	}
}
