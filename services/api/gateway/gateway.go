// Package gateway serves the REST API: grpc-gateway translating JSON over HTTP
// into gRPC calls to the orchestrator, plus the OpenAPI document and health
// endpoints. It holds no state.
package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/gen/openapi"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/api/reqid"
)

const requestIDHeader = "X-Request-Id"

// MaxBodyBytes caps request bodies.
const MaxBodyBytes = 1 << 20

// successStatus is the HTTP status of each RPC's success: creates answer 201,
// asynchronous commands 202.
var successStatus = map[string]int{
	"/aileron.workspace.v1.WorkspaceService/CreateWorkspace":  http.StatusCreated,
	"/aileron.workspace.v1.WorkspaceService/StopWorkspace":    http.StatusAccepted,
	"/aileron.workspace.v1.WorkspaceService/StartWorkspace":   http.StatusAccepted,
	"/aileron.workspace.v1.WorkspaceService/RestartWorkspace": http.StatusAccepted,
	"/aileron.workspace.v1.WorkspaceService/RestartService":   http.StatusAccepted,
	"/aileron.workspace.v1.WorkspaceService/DeleteWorkspace":  http.StatusAccepted,
	"/aileron.workspace.v1.WorkspaceService/UpdateFirewall":   http.StatusAccepted,
}

// New returns the REST handler forwarding to the gRPC server on conn.
// extra, if non-nil, serves every path outside /api/ (the web UI). Every
// request passes Protect with p first.
// m, if non-nil, counts the REST requests. Requests under /api/ are traced
// when telemetry is enabled.
func New(ctx context.Context, conn *grpc.ClientConn, extra http.Handler, p Protection, m *Metrics) (http.Handler, error) {
	opts := []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &marshaler{JSONPb: runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithStreamErrorHandler(streamErrorHandler),
		runtime.WithForwardResponseOption(setStatus),
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithMetadata(func(_ context.Context, r *http.Request) metadata.MD {
			return metadata.Pairs("x-request-id", r.Header.Get(requestIDHeader))
		}),
	}
	var api http.Handler
	if m != nil {
		opts = append(opts, runtime.WithMiddlewares(m.middleware))
	}
	if telemetry.Enabled() {
		opts = append(opts, runtime.WithMiddlewares(routeSpan))
	}
	mux := runtime.NewServeMux(opts...)
	api = limitBody(mux)
	if m != nil {
		api = m.instrument(api)
	}
	if telemetry.Enabled() {
		api = traced(api)
	}
	if err := workspacev1.RegisterWorkspaceServiceHandler(ctx, mux, conn); err != nil {
		return nil, fmt.Errorf("register gateway: %w", err)
	}
	root := http.NewServeMux()
	root.Handle("/api/", api)
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.JSON)
	})
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	if extra != nil {
		root.Handle("/", extra)
	} else {
		root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			routingErrorHandler(r.Context(), nil, nil, w, r, http.StatusNotFound)
		})
	}
	return withRequestID(Protect(p, root)), nil
}

func headerMatcher(key string) (string, bool) {
	switch http.CanonicalHeaderKey(key) {
	case "Authorization", requestIDHeader:
		return key, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

func setStatus(ctx context.Context, w http.ResponseWriter, _ proto.Message) error {
	if method, ok := runtime.RPCMethod(ctx); ok {
		if code, ok := successStatus[method]; ok {
			w.WriteHeader(code)
		}
	}
	return nil
}

// withRequestID gives every request an id, echoed in the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := reqid.Sanitize(r.Header.Get(requestIDHeader))
		r.Header.Set(requestIDHeader, id)
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r)
	})
}

// limitBody reads the body up front so an oversized one answers 413, and one
// that is not UTF-8 a 400 naming the JSON member, before anything reaches the
// server; a credential that is not printable ASCII answers 400 too.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// grpc-gateway drops a header value that cannot be gRPC metadata;
		// a dropped credential would turn into a confusing "no token".
		for _, v := range r.Header.Values("Authorization") {
			if !printableASCII(v) {
				WriteError(w, r, ErrorBody{Code: errcode.RequestEncodingInvalid, Field: "Authorization",
					Message: "Authorization header value must be printable ASCII", Status: http.StatusBadRequest})
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil {
				WriteError(w, r, ErrorBody{Code: errcode.RequestInvalid, Field: "body", Message: "body could not be read", Status: http.StatusBadRequest})
				return
			}
			if len(data) > MaxBodyBytes {
				WriteError(w, r, ErrorBody{Code: errcode.RequestTooLarge, Field: "body",
					Message: fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes), Status: http.StatusRequestEntityTooLarge})
				return
			}
			if !utf8.Valid(data) {
				f := badBodyField(data)
				WriteError(w, r, ErrorBody{Code: errcode.RequestEncodingInvalid, Field: f,
					Message: f + " is not valid UTF-8", Status: http.StatusBadRequest})
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(data))
		}
		next.ServeHTTP(w, r)
	})
}

// marshaler is JSONPb, except that the error chunks grpc-gateway writes for a
// failing stream (e.g. a watch of an unknown workspace) get the same body as
// every other error ({"code", "message", "field", ...}) instead of
// {"error": google.rpc.Status}.
type marshaler struct {
	runtime.JSONPb
}

// Marshal implements runtime.Marshaler.
func (m *marshaler) Marshal(v any) ([]byte, error) {
	if chunk, ok := v.(map[string]proto.Message); ok && len(chunk) == 1 {
		if st, ok := chunk["error"].(*spb.Status); ok {
			return json.Marshal(BodyFromStatus(status.FromProto(st)))
		}
	}
	return m.JSONPb.Marshal(v)
}
