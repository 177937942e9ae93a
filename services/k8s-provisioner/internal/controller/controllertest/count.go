package controllertest

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"aileron.dev/services/k8s-provisioner/internal/controller"
)

// Counter records the requests a client made.
type Counter struct {
	mu     sync.Mutex
	reads  int
	writes []string
}

// Reads is the number of Get and List calls.
func (n *Counter) Reads() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reads
}

// Writes lists every write as "verb kind name".
func (n *Counter) Writes() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.writes...)
}

func (n *Counter) read() {
	n.mu.Lock()
	n.reads++
	n.mu.Unlock()
}

func (n *Counter) write(c client.Client, verb string, obj runtime.Object, name string) {
	kind := fmt.Sprintf("%T", obj)
	if gvk, err := c.GroupVersionKindFor(obj); err == nil {
		kind = gvk.Kind
	}
	n.mu.Lock()
	n.writes = append(n.writes, verb+" "+kind+" "+name)
	n.mu.Unlock()
}

// Counting wraps c so every request is recorded in n.
func Counting(c client.WithWatch, n *Counter) client.WithWatch {
	return interceptor.NewClient(c, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			n.read()
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			n.read()
			return c.List(ctx, list, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			n.write(c, "create", obj, obj.GetName())
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			n.write(c, "update", obj, obj.GetName())
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			n.write(c, "patch", obj, obj.GetName())
			return c.Patch(ctx, obj, p, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			n.write(c, "apply", nil, fmt.Sprintf("%T", obj))
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			n.write(c, "delete", obj, obj.GetName())
			return c.Delete(ctx, obj, opts...)
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			n.write(c, "deleteAllOf", obj, "")
			return c.DeleteAllOf(ctx, obj, opts...)
		},
		SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj, subObj client.Object, opts ...client.SubResourceCreateOption) error {
			n.write(c, "create/"+sub, obj, obj.GetName())
			return c.SubResource(sub).Create(ctx, obj, subObj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			n.write(c, "update/"+sub, obj, obj.GetName())
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			n.write(c, "patch/"+sub, obj, obj.GetName())
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			n.write(c, "apply/"+sub, nil, fmt.Sprintf("%T", obj))
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	})
}

// CountingReconciler returns a workspace reconciler beside any running
// operator, with an uncached client on cfg (and a fresh REST mapper, so no
// cached discovery) whose requests are recorded in the returned Counter.
func CountingReconciler(cfg *rest.Config, rc controller.Config) (*controller.WorkspaceReconciler, *Counter, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, nil, err
	}
	scheme, err := controller.Scheme()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme, Mapper: mapper, HTTPClient: httpClient})
	if err != nil {
		return nil, nil, err
	}
	n := &Counter{}
	r, err := controller.NewWorkspaceReconciler(Counting(c, n), mapper, rc)
	if err != nil {
		return nil, nil, err
	}
	return r, n, nil
}
