package frontdoor

import (
	"context"
	"fmt"
	"net/url"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/orchestrator"
)

// Handler is the orchestrator's gRPC handler plus OpenWorkspaceService,
// which needs the front door's key.
type Handler struct {
	*orchestrator.Handler
	fd       *FrontDoor
	identity orchestrator.Identity
}

// Handler returns h with OpenWorkspaceService served by fd; id is the same
// identity h uses (nil: the dev identity).
func (fd *FrontDoor) Handler(h *orchestrator.Handler, id orchestrator.Identity) *Handler {
	if id == nil {
		id = orchestrator.DevIdentity
	}
	return &Handler{Handler: h, fd: fd, identity: id}
}

// OpenWorkspaceService implements WorkspaceService: after the owner check, a
// ticket good for TicketTTL, once, for this one service (or preview port) of
// this workspace.
func (h *Handler) OpenWorkspaceService(ctx context.Context, req *workspacev1.OpenWorkspaceServiceRequest) (*workspacev1.OpenWorkspaceServiceResponse, error) {
	if err := orchestrator.ValidateID(req.GetId()); err != nil {
		return nil, orchestrator.ToStatus(err)
	}
	s := workspace.Service(req.GetService())
	if !s.Valid() {
		return nil, orchestrator.ToStatus(&orchestrator.Error{Kind: orchestrator.ErrInvalidArgument, Code: errcode.WorkspaceServiceInvalid, Field: "service",
			Message: fmt.Sprintf("service %q must be one of runtime, terminal, browser, canvas", req.GetService())})
	}
	t := &target{service: s, id: req.GetId()}
	if p := req.GetPort(); p != 0 {
		if p > 65535 || s != workspace.ServiceRuntime {
			return nil, orchestrator.ToStatus(&orchestrator.Error{Kind: orchestrator.ErrInvalidArgument, Code: errcode.PreviewPortInvalid, Field: "port",
				Message: fmt.Sprintf("port %d: a preview is of a port 1-65535 of the runtime service", p)})
		}
		t = previewTarget(req.GetId(), uint16(p))
	}
	subject, admin := h.identity(ctx)
	ws, err := h.fd.check(ctx, t, auth.Principal{Subject: subject, Admin: admin}, nil)
	if err != nil {
		return nil, orchestrator.ToStatus(err)
	}
	now := h.fd.now()
	exp := now.Add(h.fd.cfg.TicketTTL)
	c := claims{Workspace: t.id, Service: s, Port: t.port, Subject: subject, Admin: admin, Generation: ws.GetGeneration(), Expires: exp.Unix(), Nonce: nonce()}
	origin := h.fd.cfg.origin(t, h.fd.apiPort)
	return &workspacev1.OpenWorkspaceServiceResponse{
		Url:        origin + EnterPath + "?ticket=" + url.QueryEscape(h.fd.ticket.sign(c)),
		ExpireTime: timestamppb.New(exp),
		Endpoint:   origin + "/",
	}, nil
}

// Unary and Stream rewrite every workspace the API answers with: each
// service's endpoint becomes its front-door URL. The stored record (and the
// index) keep the internal endpoint the front door proxies to.
func (fd *FrontDoor) Unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if m, ok := resp.(proto.Message); ok && err == nil {
		return fd.public(m), nil
	}
	return resp, err
}

// Stream is Unary for streams (the watch).
func (fd *FrontDoor) Stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &publicStream{ServerStream: ss, fd: fd})
}

type publicStream struct {
	grpc.ServerStream
	fd *FrontDoor
}

func (s *publicStream) SendMsg(m any) error {
	if pm, ok := m.(proto.Message); ok {
		m = s.fd.public(pm)
	}
	return s.ServerStream.SendMsg(m)
}

var workspaceName = (&workspacev1.Workspace{}).ProtoReflect().Descriptor().FullName()

// public returns m, or a copy of it with front-door endpoints when it holds
// a workspace (responses share records with the index, so m is never changed).
func (fd *FrontDoor) public(m proto.Message) proto.Message {
	if !holdsWorkspace(m.ProtoReflect().Descriptor(), 0) {
		return m
	}
	m = proto.Clone(m)
	fd.walk(m.ProtoReflect())
	return m
}

func holdsWorkspace(d protoreflect.MessageDescriptor, depth int) bool {
	if d.FullName() == workspaceName {
		return true
	}
	if depth > 2 {
		return false
	}
	fields := d.Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); f.Message() != nil && holdsWorkspace(f.Message(), depth+1) {
			return true
		}
	}
	return false
}

func (fd *FrontDoor) walk(m protoreflect.Message) {
	if m.Descriptor().FullName() == workspaceName {
		w := m.Interface().(*workspacev1.Workspace)
		for _, s := range workspace.Services {
			if st := orchestrator.ServiceByName(w.GetServices(), s); st != nil && st.Endpoint != "" {
				st.Endpoint = fd.Origin(s, w.GetId()) + "/"
			}
		}
		return
	}
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.Message() == nil || f.IsMap():
		case f.IsList():
			for i := range v.List().Len() {
				fd.walk(v.List().Get(i).Message())
			}
		default:
			fd.walk(v.Message())
		}
		return true
	})
}
