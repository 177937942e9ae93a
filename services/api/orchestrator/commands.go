package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
)

// Create validates req and records a new workspace in state creating.
func (o *Orchestrator) Create(ctx context.Context, owner string, req *workspacev1.CreateWorkspaceRequest) (*workspacev1.Workspace, error) {
	if err := validateName(req.GetName()); err != nil {
		return nil, err
	}
	prov := workspace.Provisioner(req.GetProvisioner())
	if prov == "" {
		prov = workspace.ProvisionerDocker
	}
	if err := validateProvisioner(prov, o.cfg.Provisioners); err != nil {
		return nil, err
	}
	max := o.cfg.MaxWorkspacesPerOwner
	now := timestamppb.New(o.now())
	w := &workspacev1.Workspace{
		Id: newID(), Name: req.GetName(), Owner: owner, Provisioner: string(prov),
		DesiredState: string(workspace.DesiredRunning), Generation: 1, CreateTime: now, UpdateTime: now,
		Services: &workspacev1.Services{
			Runtime:  &workspacev1.ServiceStatus{Enabled: true, State: string(workspace.ServicePending)},
			Terminal: &workspacev1.ServiceStatus{Enabled: true, State: string(workspace.ServicePending)},
			Browser:  &workspacev1.ServiceStatus{Enabled: true, State: string(workspace.ServicePending)},
			Canvas:   &workspacev1.ServiceStatus{Enabled: req.GetCanvasEnabled(), State: string(workspace.ServicePending)},
		},
		Operations:     &workspacev1.Operations{},
		FirewallStatus: &workspacev1.FirewallStatus{Revision: 1, Phase: string(workspace.FirewallApplying), UpdateTime: now},
	}
	if !w.Services.Canvas.Enabled {
		w.Services.Canvas.State = string(workspace.ServiceDisabled)
	}
	err := applyFirewall(w,
		enabledOr(req.WorkspaceFirewallNetworkAccessEnabled), req.GetWorkspaceFirewallDomainAccessMode(), req.GetWorkspaceFirewallAllowedDomains(),
		enabledOr(req.BrowserFirewallNetworkAccessEnabled), req.GetBrowserFirewallDomainAccessMode(), req.GetBrowserFirewallAllowedDomains())
	if err != nil {
		return nil, err
	}
	o.setState(w, workspace.StateCreating, "workspace requested")

	if max > 0 {
		if err := o.store.ClaimQuota(ctx, owner, w.Id, max, o.now()); err != nil {
			if errors.Is(err, store.ErrQuotaExceeded) {
				return nil, quotaExceeded(owner, max)
			}
			return nil, storeUnavailable(err)
		}
	}
	// Whatever stops the create from here gives the quota claim back, on a
	// context of its own: the request's may be what stopped it.
	release := func() {
		if max > 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
			defer cancel()
			_ = o.store.ReleaseQuota(rctx, owner, w.Id)
		}
	}
	if err := o.claimName(ctx, owner, w); err != nil {
		release()
		if !errors.Is(err, store.ErrConflict) {
			// The claim may have been written with its answer lost (a NATS
			// failover): give it back, or a retry of this create would wait
			// a minute for a record that never comes.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
			_ = o.store.ReleaseName(rctx, owner, w.Name, w.Id)
			cancel()
		}
		if errors.Is(err, store.ErrNamePending) {
			return nil, &Error{Kind: ErrUnavailable, Code: errcode.StoreUnavailable, Field: "name",
				Message: "name " + quote(w.Name) + " is held by a create that has not finished (its store write is not confirmed yet); retry"}
		}
		if errors.Is(err, store.ErrConflict) {
			return nil, &Error{Kind: ErrAlreadyExists, Code: errcode.WorkspaceNameConflict, Field: "name", Message: "name " + quote(w.Name) + " is already used by another of your workspaces"}
		}
		return nil, storeUnavailable(err)
	}
	rec := &storev1.WorkspaceRecord{Workspace: w}
	openTransition(rec, workspace.StateCreating, w.Generation, now.AsTime())
	o.attachEvent(rec, event.TypeCreated, "")
	rev, err := o.store.Create(ctx, rec)
	if err != nil {
		rev, err = o.settleCreate(ctx, rec)
	}
	if err != nil {
		// Whether the record was written is unknown: the claims stay (a
		// name claim whose workspace does not exist is taken over after a
		// minute) and the sweeper publishes the event if the record exists.
		o.retryPublish(w.Id)
		return nil, storeUnavailable(err)
	}
	w.Revision = rev
	o.publish(ctx, rec)
	return w, nil
}

// claimName claims w's name for it. A claim held by a create whose record
// is not there yet is waited for while the request lasts: a racing create
// writes its record in milliseconds (then the name is taken), a create whose
// write is being settled after a NATS failover within settleTimeout, so a
// client retrying a create that timed out learns that its first attempt made
// the workspace instead of being told a name is taken by nothing.
func (o *Orchestrator) claimName(ctx context.Context, owner string, w *workspacev1.Workspace) error {
	for {
		err := o.store.ClaimName(ctx, owner, w.Name, w.Id, o.now())
		if !errors.Is(err, store.ErrNamePending) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settleTimeout bounds how long a failed record create is retried after the
// request's own context ended.
const settleTimeout = 10 * time.Second

// settleCreate retries the create of a new record whose first write failed.
// That write may have been applied with its answer lost (a NATS failover,
// or the request's deadline ending mid-write), so giving the name back
// could let a retry of the request make a second workspace of that name,
// and leaving it claimed would refuse the retry though nothing was made.
// Create is idempotent by key (the id is new): it either writes the record
// now or finds the one the lost write made, so the create ends exactly
// once. It runs on a context of its own: the request's may be what ended.
func (o *Orchestrator) settleCreate(ctx context.Context, rec *storev1.WorkspaceRecord) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	for {
		rev, err := o.store.Create(ctx, rec)
		if err == nil {
			return rev, nil
		}
		if errors.Is(err, store.ErrConflict) {
			got, gerr := o.store.Get(ctx, rec.Workspace.Id)
			if gerr == nil {
				return got.Workspace.Revision, nil
			}
			err = gerr
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func enabledOr(b *bool) bool { return b == nil || *b }

func quotaExceeded(owner string, max int) *Error {
	return &Error{Kind: ErrQuota, Code: errcode.QuotaExceeded, Field: "name",
		Message: fmt.Sprintf("owner %s already has %d workspaces, the most allowed; delete one first", quote(owner), max)}
}

// Get returns the workspace with id, read from the store.
func (o *Orchestrator) Get(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	rec, err := o.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, NotFound(id)
	}
	if err != nil {
		return nil, storeUnavailable(err)
	}
	return rec.Workspace, nil
}

// Stop, Start, Restart and Delete apply the lifecycle commands.
func (o *Orchestrator) Stop(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	return o.lifecycle(ctx, id, CmdStop)
}

// Start starts a stopped or failed workspace.
func (o *Orchestrator) Start(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	return o.lifecycle(ctx, id, CmdStart)
}

// Restart restarts every service of a running workspace.
func (o *Orchestrator) Restart(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	return o.lifecycle(ctx, id, CmdRestart)
}

// Delete deletes a workspace from any state.
func (o *Orchestrator) Delete(ctx context.Context, id string) (*workspacev1.Workspace, error) {
	return o.lifecycle(ctx, id, CmdDelete)
}

// lifecycle applies a command that moves the whole workspace: its row of the
// command table gives the next state, the desired state, the event and the reason.
func (o *Orchestrator) lifecycle(ctx context.Context, id string, cmd Command) (*workspacev1.Workspace, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	t := transitions[cmd]
	return o.mutate(ctx, id, "", func(w *workspacev1.Workspace) (change, error) {
		next, repeat, err := Decide(cmd, workspace.State(w.State))
		if err != nil || repeat {
			return noChange, err
		}
		w.Generation++
		w.DesiredState = string(t.desired)
		o.setState(w, next, t.reason)
		if cmd == CmdRestart {
			w.Operations.RestartWorkspaceTime = timestamppb.New(o.now())
			for _, s := range serviceList(w.Services) {
				if s.Enabled {
					s.State = string(workspace.ServiceRestarting)
				}
			}
		}
		return emit(t.event), nil
	})
}

// RestartService restarts one service of a running workspace.
func (o *Orchestrator) RestartService(ctx context.Context, id string, service workspace.Service) (*workspacev1.Workspace, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := validateService(service); err != nil {
		return nil, err
	}
	return o.mutate(ctx, id, string(service), func(w *workspacev1.Workspace) (change, error) {
		if _, _, err := Decide(CmdRestartService, workspace.State(w.State)); err != nil {
			return noChange, err
		}
		s := ServiceByName(w.Services, service)
		if !s.Enabled {
			return noChange, &Error{Kind: ErrInvalidTransition, Code: errcode.WorkspaceServiceNotEnabled, Field: "service", Message: "service " + string(service) + " is not enabled in this workspace"}
		}
		// A repeat while the previous request is unobserved by the
		// provisioner is the same request; after that it is a new restart.
		if s.State == string(workspace.ServiceRestarting) && w.ObservedGeneration < w.Generation {
			return noChange, nil
		}
		w.Generation++
		now := timestamppb.New(o.now())
		switch service {
		case workspace.ServiceRuntime:
			w.Operations.RestartRuntimeTime = now
		case workspace.ServiceTerminal:
			w.Operations.RestartTerminalTime = now
		case workspace.ServiceBrowser:
			w.Operations.RestartBrowserTime = now
		case workspace.ServiceCanvas:
			w.Operations.RestartCanvasTime = now
		}
		s.State = string(workspace.ServiceRestarting)
		return emit(transitions[CmdRestartService].event), nil
	})
}

// Firewall returns the firewall resource of a workspace.
func Firewall(w *workspacev1.Workspace) *workspacev1.Firewall {
	return &workspacev1.Firewall{
		Id: w.Id, Revision: w.GetFirewallStatus().GetRevision(),
		WorkspaceFirewallNetworkAccessEnabled: w.WorkspaceFirewallNetworkAccessEnabled,
		WorkspaceFirewallDomainAccessMode:     w.WorkspaceFirewallDomainAccessMode,
		WorkspaceFirewallAllowedDomains:       w.WorkspaceFirewallAllowedDomains,
		BrowserFirewallNetworkAccessEnabled:   w.BrowserFirewallNetworkAccessEnabled,
		BrowserFirewallDomainAccessMode:       w.BrowserFirewallDomainAccessMode,
		BrowserFirewallAllowedDomains:         w.BrowserFirewallAllowedDomains,
		Status:                                w.FirewallStatus,
	}
}

// UpdateFirewall replaces the six firewall settings if req.Revision is current.
func (o *Orchestrator) UpdateFirewall(ctx context.Context, req *workspacev1.UpdateFirewallRequest) (*workspacev1.Workspace, error) {
	if err := ValidateID(req.GetId()); err != nil {
		return nil, err
	}
	want := &workspacev1.Workspace{}
	err := applyFirewall(want,
		req.WorkspaceFirewallNetworkAccessEnabled, req.WorkspaceFirewallDomainAccessMode, req.WorkspaceFirewallAllowedDomains,
		req.BrowserFirewallNetworkAccessEnabled, req.BrowserFirewallDomainAccessMode, req.BrowserFirewallAllowedDomains)
	if err != nil {
		return nil, err
	}
	w, err := o.mutate(ctx, req.GetId(), "", func(w *workspacev1.Workspace) (change, error) {
		if _, _, err := Decide(CmdUpdateFirewall, workspace.State(w.State)); err != nil {
			return noChange, err
		}
		if cur := w.GetFirewallStatus().GetRevision(); req.GetRevision() != cur {
			return noChange, &Error{Kind: ErrConflict, Code: errcode.FirewallRevisionConflict, Field: "revision",
				Message: "revision " + itoa(req.GetRevision()) + " is stale: the firewall is at revision " + itoa(cur) + "; read it again and retry"}
		}
		if sameFirewall(w, want) {
			return noChange, nil
		}
		w.WorkspaceFirewallNetworkAccessEnabled = want.WorkspaceFirewallNetworkAccessEnabled
		w.WorkspaceFirewallDomainAccessMode = want.WorkspaceFirewallDomainAccessMode
		w.WorkspaceFirewallAllowedDomains = want.WorkspaceFirewallAllowedDomains
		w.BrowserFirewallNetworkAccessEnabled = want.BrowserFirewallNetworkAccessEnabled
		w.BrowserFirewallDomainAccessMode = want.BrowserFirewallDomainAccessMode
		w.BrowserFirewallAllowedDomains = want.BrowserFirewallAllowedDomains
		w.Generation++
		fs := w.FirewallStatus
		fs.Revision++
		fs.Phase = string(workspace.FirewallApplying)
		fs.Message, fs.ErrorCode = "", ""
		fs.UpdateTime = timestamppb.New(o.now())
		return emit(transitions[CmdUpdateFirewall].event), nil
	})
	if err == nil {
		o.firewallAsked.Store(w.Id, firewallAsk{revision: w.GetFirewallStatus().GetRevision(), at: o.now()})
	}
	return w, err
}

func sameFirewall(a, b *workspacev1.Workspace) bool {
	return a.WorkspaceFirewallNetworkAccessEnabled == b.WorkspaceFirewallNetworkAccessEnabled &&
		a.WorkspaceFirewallDomainAccessMode == b.WorkspaceFirewallDomainAccessMode &&
		slices.Equal(a.WorkspaceFirewallAllowedDomains, b.WorkspaceFirewallAllowedDomains) &&
		a.BrowserFirewallNetworkAccessEnabled == b.BrowserFirewallNetworkAccessEnabled &&
		a.BrowserFirewallDomainAccessMode == b.BrowserFirewallDomainAccessMode &&
		slices.Equal(a.BrowserFirewallAllowedDomains, b.BrowserFirewallAllowedDomains)
}

// ServiceByName returns the status of one service of s; nil for an unknown
// service or a nil s.
func ServiceByName(s *workspacev1.Services, name workspace.Service) *workspacev1.ServiceStatus {
	switch name {
	case workspace.ServiceRuntime:
		return s.GetRuntime()
	case workspace.ServiceTerminal:
		return s.GetTerminal()
	case workspace.ServiceBrowser:
		return s.GetBrowser()
	case workspace.ServiceCanvas:
		return s.GetCanvas()
	}
	return nil
}

func serviceList(s *workspacev1.Services) []*workspacev1.ServiceStatus {
	return []*workspacev1.ServiceStatus{s.Runtime, s.Terminal, s.Browser, s.Canvas}
}

func clone(w *workspacev1.Workspace) *workspacev1.Workspace {
	return proto.Clone(w).(*workspacev1.Workspace)
}
