package gateway

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"aileron.dev/pkg/errcode"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	// Code is stable and machine-readable, e.g. WORKSPACE_NOT_FOUND.
	Code errcode.Code `json:"code"`
	// Message is for humans and names the field.
	Message string `json:"message"`
	// Field is the request field the error is about, when there is one.
	Field string `json:"field,omitempty"`
	// Status repeats the HTTP status.
	Status int `json:"status"`
	// RequestID identifies the request in logs.
	RequestID string `json:"request_id,omitempty"`
}

// httpStatus maps gRPC codes to HTTP. FailedPrecondition (a command the state
// does not allow) and Aborted (a stale revision) are conflicts: 409.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted, codes.FailedPrecondition:
		return http.StatusConflict
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Canceled:
		return 499
	}
	return http.StatusInternalServerError
}

// fallbackCode names errors that carry no ErrorInfo: those the gateway itself
// raises before reaching the server (malformed JSON, unknown fields, bad
// path or query values).
func fallbackCode(c codes.Code) errcode.Code {
	switch c {
	case codes.InvalidArgument:
		return errcode.RequestInvalid
	case codes.NotFound:
		return errcode.NotFound
	case codes.Unavailable:
		return errcode.Unavailable
	case codes.Unimplemented:
		return errcode.NotImplemented
	case codes.Unauthenticated:
		return errcode.Unauthenticated
	case codes.ResourceExhausted:
		return errcode.RateLimited
	case codes.PermissionDenied:
		return errcode.PermissionDenied
	}
	return errcode.Internal
}

// BodyFromStatus converts a gRPC status into the REST error body.
func BodyFromStatus(st *status.Status) ErrorBody {
	b := ErrorBody{Code: fallbackCode(st.Code()), Message: st.Message(), Status: httpStatus(st.Code())}
	if st.Code() == codes.InvalidArgument && b.Code == errcode.RequestInvalid {
		b.Field = "body"
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			b.Code = errcode.Code(info.GetReason())
			b.Field = info.GetMetadata()["field"]
		}
	}
	if b.Code == errcode.RequestTooLarge {
		b.Status = http.StatusRequestEntityTooLarge // whatever the gRPC code: ResourceExhausted is not a 429 here
	}
	if b.Status == http.StatusInternalServerError {
		b.Message = "internal error"
	}
	return b
}

// WriteError writes body as the JSON error response.
func WriteError(w http.ResponseWriter, r *http.Request, b ErrorBody) {
	b.RequestID = r.Header.Get(requestIDHeader)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Trailer")
	w.WriteHeader(b.Status)
	_ = json.NewEncoder(w).Encode(b)
}

func errorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			secs := int(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		}
	}
	if st.Code() == codes.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="aileron"`)
	}
	WriteError(w, r, BodyFromStatus(st))
}

func routingErrorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
	b := ErrorBody{Code: errcode.RouteNotFound, Message: "no API route " + r.Method + " " + r.URL.Path, Status: code}
	switch code {
	case http.StatusMethodNotAllowed:
		b.Code = errcode.MethodNotAllowed
	case http.StatusBadRequest:
		b.Code = errcode.RequestInvalid
	}
	WriteError(w, r, b)
}

func streamErrorHandler(_ context.Context, err error) *status.Status {
	return status.Convert(err)
}
