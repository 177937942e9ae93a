package server

import (
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/api/orchestrator"
)

// Bounds of the gRPC server. grpc-go's defaults let one client send 4 MiB
// messages with 16 MiB of metadata on unlimited concurrent streams, and never
// notice a peer that vanished.
const (
	// MaxRecvMsgBytes caps one request message: twice the REST body cap, as
	// a proto is no larger than its JSON.
	MaxRecvMsgBytes = 2 << 20
	// MaxMetadataBytes caps a request's metadata as HTTP/2 counts it (name,
	// value and 32 bytes a field): larger answers ResourceExhausted with
	// REQUEST_TOO_LARGE. A bearer token of an identity provider with many
	// group claims fits.
	MaxMetadataBytes = 16 << 10
	// MaxHeaderListBytes is the transport's hard cap on a header list, the
	// setting the server advertises; a stream over it is reset before the
	// server keeps it. It is above MaxMetadataBytes so that callers between
	// the two get a coded answer.
	MaxHeaderListBytes = 2 * MaxMetadataBytes
)

// Connection bounds. The REST gateway reaches the server over one
// connection, so MaxConcurrentStreams also bounds the REST calls (watches
// included) in flight at once; more wait for a free stream.
const (
	MaxConcurrentStreams = 1000
	// KeepaliveTime is how long a connection may be silent before the server
	// pings it; KeepaliveTimeout how long it then waits for the answer before
	// closing the connection (and the watches on it) of a vanished peer.
	KeepaliveTime    = time.Minute
	KeepaliveTimeout = 20 * time.Second
	// MaxConnectionIdle closes a connection without calls for this long.
	MaxConnectionIdle = 15 * time.Minute
	// MinClientPingInterval: a client pinging more often is sent GOAWAY.
	MinClientPingInterval = 10 * time.Second
	// HandshakeTimeout bounds a new connection's setup.
	HandshakeTimeout = 10 * time.Second
)

// limitOptions are the server options applying the bounds above.
func limitOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxRecvMsgBytes),
		grpc.MaxHeaderListSize(MaxHeaderListBytes),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.ConnectionTimeout(HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: KeepaliveTime, Timeout: KeepaliveTimeout, MaxConnectionIdle: MaxConnectionIdle,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: MinClientPingInterval, PermitWithoutStream: true}),
	}
}

// metadataBytes is md's size as HTTP/2 counts a header list.
func metadataBytes(md metadata.MD) int {
	n := 0
	for k, vs := range md {
		for _, v := range vs {
			n += len(k) + len(v) + 32
		}
	}
	return n
}

func tooLarge(n int) error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("metadata is %d bytes, more than the %d allowed", n, MaxMetadataBytes))
	info := &errdetails.ErrorInfo{Reason: string(errcode.RequestTooLarge), Domain: orchestrator.ErrorDomain,
		Metadata: map[string]string{"field": "metadata"}}
	if withInfo, err := st.WithDetails(info); err == nil {
		st = withInfo
	}
	return st.Err()
}
