package orchestrator

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
)

// ErrorDomain is the ErrorInfo domain of every Aileron API error.
const ErrorDomain = "aileron.dev"

// Identity tells who is calling: the owner recorded on new workspaces and
// whether the caller may see every workspace.
type Identity func(ctx context.Context) (owner string, admin bool)

// DevIdentity is the identity of an unauthenticated local `aileron dev`.
func DevIdentity(context.Context) (string, bool) { return "dev", true }

// Handler serves WorkspaceService over gRPC. It is the only layer that maps
// domain errors to status codes.
type Handler struct {
	workspacev1.UnimplementedWorkspaceServiceServer
	o        *Orchestrator
	identity Identity
	policy   AccessPolicy
}

// AccessPolicy holds the authorization rules beyond ownership.
type AccessPolicy struct {
	// FirewallAdminOnly reserves firewall changes (and non-default firewall
	// settings on create) to admins.
	FirewallAdminOnly bool
}

// NewHandler returns the gRPC handler of o.
func NewHandler(o *Orchestrator, id Identity, p AccessPolicy) *Handler {
	if id == nil {
		id = DevIdentity
	}
	return &Handler{o: o, identity: id, policy: p}
}

// firewallAllowed enforces FirewallAdminOnly.
func (h *Handler) firewallAllowed(ctx context.Context) error {
	if _, admin := h.identity(ctx); h.policy.FirewallAdminOnly && !admin {
		return &Error{Kind: ErrPermission, Code: errcode.FirewallAdminOnly, Field: "firewall", Message: "only admins may change firewall settings on this server"}
	}
	return nil
}

func customFirewall(r *workspacev1.CreateWorkspaceRequest) bool {
	return r.WorkspaceFirewallNetworkAccessEnabled != nil || r.BrowserFirewallNetworkAccessEnabled != nil ||
		r.WorkspaceFirewallDomainAccessMode != "" || r.BrowserFirewallDomainAccessMode != "" ||
		len(r.WorkspaceFirewallAllowedDomains) > 0 || len(r.BrowserFirewallAllowedDomains) > 0
}

// visible returns the workspace if the caller may see it, else not-found (so
// ids of other users cannot be probed).
func (h *Handler) visible(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	w, err := h.o.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := h.canSee(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}

// canSee answers not-found for a workspace of another user unless the
// caller is an admin.
func (h *Handler) canSee(ctx context.Context, w *workspacev1.Workspace) error {
	if owner, admin := h.identity(ctx); !admin && w.Owner != owner {
		return NotFound(w.Id)
	}
	return nil
}

// CreateWorkspace implements WorkspaceService.
func (h *Handler) CreateWorkspace(ctx context.Context, req *workspacev1.CreateWorkspaceRequest) (*workspacev1.CreateWorkspaceResponse, error) {
	owner, _ := h.identity(ctx)
	if customFirewall(req) {
		if err := h.firewallAllowed(ctx); err != nil {
			return nil, toStatus(err)
		}
	}
	w, err := h.o.Create(ctx, owner, req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &workspacev1.CreateWorkspaceResponse{Workspace: w}, nil
}

// ListWorkspaces implements WorkspaceService.
func (h *Handler) ListWorkspaces(ctx context.Context, req *workspacev1.ListWorkspacesRequest) (*workspacev1.ListWorkspacesResponse, error) {
	size := int(req.GetPageSize())
	if size == 0 {
		size = 50
	}
	if size < 1 || size > 100 {
		return nil, toStatus(invalid(errcode.PageSizeInvalid, "page_size", "page_size must be between 1 and 100"))
	}
	f, err := h.filter(ctx, "", workspace.State(req.GetState()), workspace.Provisioner(req.GetProvisioner()), req.GetSearch())
	if err != nil {
		return nil, toStatus(err)
	}
	ws, next, err := h.o.index.List(f, size, req.GetPageToken())
	if err != nil {
		return nil, toStatus(err)
	}
	return &workspacev1.ListWorkspacesResponse{Workspaces: ws, NextPageToken: next}, nil
}

func (h *Handler) filter(ctx context.Context, id string, state workspace.State, prov workspace.Provisioner, search string) (Filter, error) {
	if state != "" {
		if err := validateState(state); err != nil {
			return Filter{}, err
		}
	}
	if prov != "" {
		if err := validateKnownProvisioner(prov); err != nil {
			return Filter{}, err
		}
	}
	if len(search) > 63 {
		return Filter{}, invalid(errcode.SearchInvalid, "search", "search must be at most 63 characters")
	}
	f := Filter{ID: id, State: state, Provisioner: prov, Search: search}
	if owner, admin := h.identity(ctx); !admin {
		f.Owner = owner
	}
	return f, nil
}

// GetWorkspace implements WorkspaceService.
func (h *Handler) GetWorkspace(ctx context.Context, req *workspacev1.GetWorkspaceRequest) (*workspacev1.GetWorkspaceResponse, error) {
	w, err := h.visible(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &workspacev1.GetWorkspaceResponse{Workspace: w}, nil
}

// authorize lets the caller act on workspace id: an admin on any, a user
// on their own. The owner never changes, so the index answers without a
// store read; only an id the index does not hold yet is read from the store.
func (h *Handler) authorize(ctx context.Context, id string) error {
	caller, admin := h.identity(ctx)
	if admin {
		return nil // the command itself answers for an id that does not exist
	}
	if owner, ok := h.o.index.Owner(id); ok {
		if owner != caller {
			return NotFound(id)
		}
		return nil
	}
	_, err := h.visible(ctx, id)
	return err
}

// command runs a lifecycle command on a workspace the caller may act on.
func (h *Handler) command(ctx context.Context, id string, fn func(context.Context, string) (*workspacev1.Workspace, error)) (*workspacev1.Workspace, error) {
	if err := h.authorize(ctx, id); err != nil {
		return nil, toStatus(err)
	}
	w, err := fn(ctx, id)
	if err != nil {
		return nil, toStatus(err)
	}
	return w, nil
}

// StopWorkspace implements WorkspaceService.
func (h *Handler) StopWorkspace(ctx context.Context, req *workspacev1.StopWorkspaceRequest) (*workspacev1.StopWorkspaceResponse, error) {
	w, err := h.command(ctx, req.GetId(), h.o.Stop)
	return &workspacev1.StopWorkspaceResponse{Workspace: w}, err
}

// StartWorkspace implements WorkspaceService.
func (h *Handler) StartWorkspace(ctx context.Context, req *workspacev1.StartWorkspaceRequest) (*workspacev1.StartWorkspaceResponse, error) {
	w, err := h.command(ctx, req.GetId(), h.o.Start)
	return &workspacev1.StartWorkspaceResponse{Workspace: w}, err
}

// RestartWorkspace implements WorkspaceService.
func (h *Handler) RestartWorkspace(ctx context.Context, req *workspacev1.RestartWorkspaceRequest) (*workspacev1.RestartWorkspaceResponse, error) {
	w, err := h.command(ctx, req.GetId(), h.o.Restart)
	return &workspacev1.RestartWorkspaceResponse{Workspace: w}, err
}

// RestartService implements WorkspaceService.
func (h *Handler) RestartService(ctx context.Context, req *workspacev1.RestartServiceRequest) (*workspacev1.RestartServiceResponse, error) {
	w, err := h.command(ctx, req.GetId(), func(ctx context.Context, id string) (*workspacev1.Workspace, error) {
		return h.o.RestartService(ctx, id, workspace.Service(req.GetService()))
	})
	return &workspacev1.RestartServiceResponse{Workspace: w}, err
}

// DeleteWorkspace implements WorkspaceService.
func (h *Handler) DeleteWorkspace(ctx context.Context, req *workspacev1.DeleteWorkspaceRequest) (*workspacev1.DeleteWorkspaceResponse, error) {
	w, err := h.command(ctx, req.GetId(), h.o.Delete)
	return &workspacev1.DeleteWorkspaceResponse{Workspace: w}, err
}

// GetFirewall implements WorkspaceService.
func (h *Handler) GetFirewall(ctx context.Context, req *workspacev1.GetFirewallRequest) (*workspacev1.GetFirewallResponse, error) {
	w, err := h.visible(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &workspacev1.GetFirewallResponse{Firewall: Firewall(w)}, nil
}

// UpdateFirewall implements WorkspaceService.
func (h *Handler) UpdateFirewall(ctx context.Context, req *workspacev1.UpdateFirewallRequest) (*workspacev1.UpdateFirewallResponse, error) {
	w, err := h.command(ctx, req.GetId(), func(ctx context.Context, _ string) (*workspacev1.Workspace, error) {
		if err := h.firewallAllowed(ctx); err != nil {
			return nil, err
		}
		return h.o.UpdateFirewall(ctx, req)
	})
	if err != nil {
		return nil, err
	}
	return &workspacev1.UpdateFirewallResponse{Firewall: Firewall(w)}, nil
}

// GetWorkspaceTimeline implements WorkspaceService.
func (h *Handler) GetWorkspaceTimeline(ctx context.Context, req *workspacev1.GetWorkspaceTimelineRequest) (*workspacev1.GetWorkspaceTimelineResponse, error) {
	w, ts, err := h.o.Timeline(ctx, req.GetId())
	if err == nil {
		err = h.canSee(ctx, w)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &workspacev1.GetWorkspaceTimelineResponse{Id: w.Id, Transitions: ts}, nil
}

// WatchWorkspaces implements WorkspaceService: the current workspaces as
// "added", then every change until the client goes away.
func (h *Handler) WatchWorkspaces(req *workspacev1.WatchWorkspacesRequest, stream workspacev1.WorkspaceService_WatchWorkspacesServer) error {
	ctx := stream.Context()
	if req.GetId() != "" {
		if _, err := h.visible(ctx, req.GetId()); err != nil {
			return toStatus(err)
		}
	}
	f, err := h.filter(ctx, req.GetId(), "", "", "")
	if err != nil {
		return toStatus(err)
	}
	sub, cur := h.o.index.Subscribe(f, 1024)
	defer sub.Cancel()
	for _, w := range cur {
		if err := stream.Send(&workspacev1.WatchWorkspacesResponse{Type: ChangeAdded, Workspace: w}); err != nil {
			return err
		}
	}
	if err := stream.Send(&workspacev1.WatchWorkspacesResponse{Type: ChangeSynced}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-sub.C:
			if !ok {
				return toStatus(&Error{Kind: ErrUnavailable, Code: errcode.WatchFellBehind, Message: "the watch fell behind; reconnect"})
			}
			if err := stream.Send(&workspacev1.WatchWorkspacesResponse{Type: c.Type, Workspace: c.Workspace}); err != nil {
				return err
			}
		}
	}
}

// ToStatus is toStatus for the API's other gRPC handlers (the front door's).
func ToStatus(err error) error { return toStatus(err) }

// toStatus maps a domain error to a gRPC status carrying an ErrorInfo whose
// reason is the stable code and whose metadata names the field.
func toStatus(err error) error {
	var de *Error
	if !errors.As(err, &de) {
		return status.Error(codes.Internal, "internal error")
	}
	c := codes.Internal
	switch {
	case errors.Is(de.Kind, ErrNotFound):
		c = codes.NotFound
	case errors.Is(de.Kind, ErrInvalidArgument):
		c = codes.InvalidArgument
	case errors.Is(de.Kind, ErrConflict):
		c = codes.Aborted
	case errors.Is(de.Kind, ErrAlreadyExists):
		c = codes.AlreadyExists
	case errors.Is(de.Kind, ErrInvalidTransition):
		c = codes.FailedPrecondition
	case errors.Is(de.Kind, ErrUnavailable):
		c = codes.Unavailable
	case errors.Is(de.Kind, ErrQuota):
		c = codes.ResourceExhausted
	case errors.Is(de.Kind, ErrPermission):
		c = codes.PermissionDenied
	}
	st := status.New(c, de.Message)
	info := &errdetails.ErrorInfo{Reason: string(de.Code), Domain: ErrorDomain}
	if de.Field != "" {
		info.Metadata = map[string]string{"field": de.Field}
	}
	if withInfo, err := st.WithDetails(info); err == nil {
		st = withInfo
	}
	return st.Err()
}
