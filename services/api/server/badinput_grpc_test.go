package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"aileron.dev/services/api/apitest"
)

// grpcAnswer is what a raw gRPC call got back.
type grpcAnswer struct {
	code        codes.Code
	errCode     string
	field       string
	message     string
	httpHeaders http.Header
}

// rawGRPC calls method over HTTP/2 without grpc-go's client, which refuses
// to send invalid metadata or messages: an attacker's client does not.
func rawGRPC(t testing.TB, addr, method string, md http.Header, msg []byte) grpcAnswer {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+method, bytes.NewReader(frame))
	require.NoError(t, err)
	for k, vs := range md {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	h := resp.Trailer
	if resp.Header.Get("Grpc-Status") != "" { // a trailers-only answer
		h = resp.Header
	}
	n, err := strconv.Atoi(h.Get("Grpc-Status"))
	require.NoError(t, err, "no grpc-status in %v / %v", resp.Header, resp.Trailer)
	a := grpcAnswer{code: codes.Code(n), message: h.Get("Grpc-Message"), httpHeaders: resp.Header}
	if d := h.Get("Grpc-Status-Details-Bin"); d != "" {
		b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d, "="))
		require.NoError(t, err)
		st := &spb.Status{}
		require.NoError(t, proto.Unmarshal(b, st))
		for _, any := range st.Details {
			info := &errdetails.ErrorInfo{}
			if any.UnmarshalTo(info) == nil {
				a.errCode, a.field = info.Reason, info.Metadata["field"]
			}
		}
	}
	return a
}

// str encodes one proto string (or repeated string entry) field as raw wire
// bytes, valid UTF-8 or not.
func str(num protowire.Number, v string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestBadInputsGRPC: strings that are not UTF-8 in a message or metadata
// answer InvalidArgument with the stable code and the field, not Internal,
// and write nothing.
func TestBadInputsGRPC(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	id := create(t, env, "existing")["id"].(string)
	const svc = "/aileron.workspace.v1.WorkspaceService/"
	cases := []struct {
		name, method string
		md           http.Header
		msg          []byte
		field        string
	}{
		{"get id", "GetWorkspace", nil, str(1, "\xff"), "id"},
		{"list page token", "ListWorkspaces", nil, str(2, "a\xc0\xafb"), "page_token"},
		{"create name", "CreateWorkspace", nil, str(1, "n\xfe"), "name"},
		{"create domain list entry", "CreateWorkspace", nil,
			cat(str(1, "okname"), str(6, "ok.com"), str(6, "\xed\xa0\x80.com")), "workspace_firewall_allowed_domains[1]"},
		{"update firewall domain", "UpdateFirewall", nil,
			cat(str(1, id), str(8, "x\x80.com")), "browser_firewall_allowed_domains[0]"},
		{"restart service", "RestartService", nil, cat(str(1, id), str(2, "\xffruntime")), "service"},
		{"watch id (stream)", "WatchWorkspaces", nil, str(1, "\xff"), "id"},
		{"metadata request id", "GetWorkspace", http.Header{"X-Request-Id": {"a\xffb"}}, str(1, id), "x-request-id"},
		{"metadata authorization", "GetWorkspace", http.Header{"Authorization": {"Bearer \xc3"}}, str(1, id), "authorization"},
		{"metadata not ascii", "GetWorkspace", http.Header{"X-Note": {"caf\xc3\xa9"}}, str(1, id), "x-note"},
	}
	before := revisions(t, env)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := rawGRPC(t, env.Server.GRPCAddr, svc+c.method, c.md, c.msg)
			require.Equal(t, codes.InvalidArgument, a.code, "%+v", a)
			require.Equal(t, "REQUEST_ENCODING_INVALID", a.errCode, "%+v", a)
			require.Equal(t, c.field, a.field, "%+v", a)
			require.Contains(t, a.message, strings.Split(c.field, "[")[0], "the message names the field")
		})
	}
	// A valid raw call still works: the check is not the transport refusing.
	a := rawGRPC(t, env.Server.GRPCAddr, svc+"GetWorkspace", http.Header{"X-Request-Id": {"fine-id"}}, str(1, id))
	require.Equal(t, codes.OK, a.code, "%+v", a)
	require.Equal(t, before, revisions(t, env), "bad requests must not write")
}
