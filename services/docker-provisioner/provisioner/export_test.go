package provisioner

import "context"

// Init runs Run's start-up (engine check, stores, instance id) without
// starting any worker.
func (p *Provisioner) Init(ctx context.Context) error { return p.init(ctx) }

// Instance is the instance label this provisioner uses (after Init).
func (p *Provisioner) Instance() string { return p.cfg.Instance }

// Sweep runs one orphan sweep pass, calling afterList (when set) between
// the listing and the first removal.
func (p *Provisioner) Sweep(ctx context.Context, afterList func()) { p.sweep(ctx, afterList) }
