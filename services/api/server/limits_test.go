package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/api/apitest"
	apiserver "aileron.dev/services/api/server"
)

func errorInfo(t testing.TB, err error) *errdetails.ErrorInfo {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// TestGRPCLimits: over a real loopback connection, an oversized message and
// oversized metadata are refused with ResourceExhausted before any handler
// runs, and the server still answers normal calls afterwards.
func TestGRPCLimits(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx := context.Background()

	_, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{
		Name: "big", WorkspaceFirewallAllowedDomains: []string{strings.Repeat("a", apiserver.MaxRecvMsgBytes)}})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)

	md := metadata.Pairs("x-note", strings.Repeat("m", apiserver.MaxMetadataBytes))
	_, err = env.Client.GetWorkspace(metadata.NewOutgoingContext(ctx, md), &workspacev1.GetWorkspaceRequest{Id: "aaaaaaaaaaaaaaaaaaaa"})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	info := errorInfo(t, err)
	require.NotNil(t, info, "%v", err)
	require.Equal(t, "REQUEST_TOO_LARGE", info.Reason)
	require.Equal(t, "metadata", info.Metadata["field"])

	recs, err := env.Store.List(ctx)
	require.NoError(t, err)
	require.Empty(t, recs, "refused calls must not write")
	_, err = env.Client.GetWorkspace(ctx, &workspacev1.GetWorkspaceRequest{Id: "aaaaaaaaaaaaaaaaaaaa"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	// Over REST, an oversized credential is the client's error too: 413.
	req, err := http.NewRequest(http.MethodGet, env.URL+"/api/v1/workspaces", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("t", apiserver.MaxMetadataBytes))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

// TestGRPCHeaderListCap: a client that ignores the header list size the
// server advertises gets its stream reset or its connection closed, never an
// answer.
func TestGRPCHeaderListCap(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	conn, err := net.DialTimeout("tcp", env.Server.GRPCAddr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	fr := http2.NewFramer(conn, bufio.NewReader(conn))
	require.NoError(t, fr.WriteSettings())

	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", "/aileron.workspace.v1.WorkspaceService/GetWorkspace"},
		{":authority", "x"}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}))
	}
	for i := 0; block.Len() < 4*apiserver.MaxHeaderListBytes; i++ {
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: "x-pad", Value: strings.Repeat("p", 4000), Sensitive: true}))
	}
	frag := block.Bytes()
	const chunk = 16384
	// The server may drop the connection while the list is still being
	// written, or after: refused too, unless it just stayed silent.
	dropped := func(err error) bool {
		if err == nil {
			return false
		}
		require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET),
			"the server neither reset the stream nor closed the connection: %v", err)
		return true
	}
	if dropped(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: frag[:chunk], EndStream: true})) {
		return
	}
	for frag = frag[chunk:]; len(frag) > 0; {
		n := min(chunk, len(frag))
		if dropped(fr.WriteContinuation(1, n == len(frag), frag[:n])) {
			return
		}
		frag = frag[n:]
	}
	for {
		f, err := fr.ReadFrame()
		if dropped(err) {
			return
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			require.Equal(t, uint32(1), f.StreamID)
			return
		case *http2.GoAwayFrame:
			return
		case *http2.HeadersFrame:
			t.Fatalf("the server answered a %d-byte header list", block.Len())
		case *http2.SettingsFrame:
			if !f.IsAck() && dropped(fr.WriteSettingsAck()) {
				return
			}
		}
	}
}
