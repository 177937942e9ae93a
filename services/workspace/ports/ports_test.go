package ports_test

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/ports"
)

func TestParse(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1
`
	got, err := ports.Parse(strings.NewReader(table))
	require.NoError(t, err)
	require.Equal(t, []ports.Port{
		{Port: 8080, Address: "127.0.0.1", Loopback: true},
		{Port: 22, Address: "0.0.0.0"},
	}, got, "the established connection (state 01) is not listed")

	v6 := `  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A
`
	got, err = ports.Parse(strings.NewReader(v6))
	require.NoError(t, err)
	require.Equal(t, []ports.Port{{Port: 3000, Address: "::1", Loopback: true}, {Port: 8000, Address: "::"}}, got)

	_, err = ports.Parse(strings.NewReader("header\n 0: zz:1F90 00000000:0000 0A\n"))
	require.ErrorContains(t, err, "bad local address")
}

// A socket this test opens shows in the machine's own tables.
func TestListening(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	got, err := ports.Listening("/proc/net")
	require.NoError(t, err)
	require.Contains(t, got, ports.Port{Port: port, Address: "127.0.0.1", Loopback: true})
	l.Close()
	got, err = ports.Listening("/proc/net")
	require.NoError(t, err)
	require.NotContains(t, got, ports.Port{Port: port, Address: "127.0.0.1", Loopback: true})
}
