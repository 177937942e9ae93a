package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/reqid"
)

// mutating lists the commands that are rate-limited and always audited.
var mutating = map[string]bool{
	"CreateWorkspace": true, "StopWorkspace": true, "StartWorkspace": true, "RestartWorkspace": true,
	"RestartService": true, "DeleteWorkspace": true, "UpdateFirewall": true,
	"OpenWorkspaceService": true, // issues a credential: audited
}

// Guard authenticates, rate-limits and audits calls. Health checks pass freely.
type Guard struct {
	auth    *Authenticator
	limiter *Limiter
	js      jetstream.JetStream
	log     *slog.Logger
	bound   *auditBound
	watches *streamCap
}

// NewGuard builds the interceptors' state; limiter may be nil (no limit).
func NewGuard(a *Authenticator, l *Limiter, js jetstream.JetStream, log *slog.Logger) *Guard {
	return &Guard{auth: a, limiter: l, js: js, log: log, bound: newAuditBound(log)}
}

// WithWatchCap caps the watch streams one caller holds open at once (0: no
// cap); one more answers 429 WATCH_LIMIT_REACHED. It returns g.
func (g *Guard) WithWatchCap(n int) *Guard {
	g.watches = newStreamCap(n)
	return g
}

// Authenticator returns the guard's authenticator (the front door checks
// bearer tokens with it too).
func (g *Guard) Authenticator() *Authenticator { return g.auth }

// Unary is the unary server interceptor.
func (g *Guard) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if isHealth(info.FullMethod) {
		return h(ctx, req)
	}
	method := path.Base(info.FullMethod)
	ctx, p, err := g.admit(ctx, method)
	var resp any
	if err == nil {
		resp, err = h(ctx, req)
	}
	if mutating[method] || err != nil {
		g.audit(ctx, p, method, workspaceID(req, resp), err)
	}
	return resp, err
}

// Stream is the stream server interceptor.
func (g *Guard) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if isHealth(info.FullMethod) {
		return h(srv, ss)
	}
	method := path.Base(info.FullMethod)
	ctx, p, err := g.admit(ss.Context(), method)
	if err == nil && method == "WatchWorkspaces" {
		var release func()
		if release, err = g.watches.acquire(p.Subject); err == nil {
			defer release()
		}
	}
	if err != nil {
		g.audit(ctx, p, method, "", err)
		return err
	}
	return h(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
}

// admit authenticates the caller and applies the rate limit.
func (g *Guard) admit(ctx context.Context, method string) (context.Context, Principal, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	ctx = withRequestID(ctx, md)
	p, err := g.auth.Authenticate(ctx, first(md, "authorization"))
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			c := codes.Unauthenticated
			if ae.Unavailable {
				c = codes.Unavailable
			}
			return ctx, Principal{Subject: "anonymous"}, withInfo(status.New(c, ae.Message), ae.Code, nil)
		}
		return ctx, Principal{Subject: "anonymous"}, status.Error(codes.Internal, "internal error")
	}
	if g.limiter != nil && mutating[method] {
		if wait := g.limiter.Allow(p.Subject); wait > 0 {
			msg := fmt.Sprintf("too many requests from %s; retry in %s", p.Subject, wait.Round(time.Millisecond))
			return ctx, p, withInfo(status.New(codes.ResourceExhausted, msg), errcode.RateLimited, &errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
		}
	}
	return WithPrincipal(ctx, p), p, nil
}

func withInfo(st *status.Status, code errcode.Code, retry *errdetails.RetryInfo) error {
	info := &errdetails.ErrorInfo{Reason: string(code), Domain: "aileron.dev"}
	next, err := st.WithDetails(info)
	if retry != nil {
		next, err = st.WithDetails(info, retry)
	}
	if err != nil {
		return st.Err()
	}
	return next.Err()
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

func isHealth(full string) bool { return path.Dir(full) == "/grpc.health.v1.Health" }

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

type requestIDKey struct{}

func withRequestID(ctx context.Context, md metadata.MD) context.Context {
	return context.WithValue(ctx, requestIDKey{}, reqid.Sanitize(first(md, "x-request-id")))
}

// workspaceID finds the workspace a call is about: the request's id, or the
// created workspace of a create.
func workspaceID(req, resp any) string {
	if r, ok := req.(interface{ GetId() string }); ok && r.GetId() != "" {
		return r.GetId()
	}
	if r, ok := resp.(interface{ GetWorkspace() *workspacev1.Workspace }); ok {
		return r.GetWorkspace().GetId()
	}
	return ""
}

// audit publishes and logs one audit event; a refused or failed call only
// within its client's budget (auditBound).
func (g *Guard) audit(ctx context.Context, p Principal, method, wsID string, err error) {
	if err != nil && !g.bound.allow(auditClient(ctx, p)) {
		return
	}
	ev := &eventsv1.AuditEvent{
		Time: timestamppb.Now(), Subject: p.Subject, AuthMethod: p.Method, Admin: p.Admin,
		Method: method, WorkspaceId: wsID, Result: "allowed",
	}
	ev.RequestId, _ = ctx.Value(requestIDKey{}).(string)
	if err != nil {
		st := status.Convert(err)
		ev.Result, ev.Message, ev.Code = "refused", st.Message(), st.Code().String()
		if st.Code() == codes.Internal || st.Code() == codes.Unavailable || st.Code() == codes.Unknown {
			ev.Result = "failed"
		}
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				ev.Code = info.GetReason()
			}
		}
	}
	ev.Id = reqid.New()
	g.log.Info("audit", "subject", ev.Subject, "method", method, "workspace_id", wsID, "result", ev.Result, "code", ev.Code, "request_id", ev.RequestId)
	if g.js == nil {
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := event.Publish(pctx, g.js, event.AuditSubject(ev.Result, method), ev.Id, ev); err != nil {
		g.log.Error("audit publish failed", "method", method, "workspace_id", wsID, "request_id", ev.RequestId, "err", err)
	}
}
