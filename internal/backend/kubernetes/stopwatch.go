package kubernetes

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// NotifyStops calls fn once each time a running Workspace is set to stop by anyone — the
// operator's idle or maximum-run-time stop above all, but also another gateway replica or
// kubectl — so this gateway drops its route at once. Without it the route points at a
// Service with no pod behind it until a request fails (a dial timeout), and the open tabs
// learn of the stop only then. The reason passed is always "": every replica sees every
// stop, so counting or auditing it here would count it once per replica. It needs a client
// that can watch (NewClient's can); with another client nothing is watched.
func (b *Backend) NotifyStops(fn func(ref backend.Ref, reason string)) {
	wc, ok := b.cfg.Client.(client.WithWatch)
	if !ok {
		return
	}
	b.watchOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		b.stopWatch, b.watchDone = cancel, make(chan struct{})
		go func() {
			defer close(b.watchDone)
			b.watchStops(ctx, wc, fn)
		}()
	})
}

// watchStops lists the Workspaces, then follows their changes from that list's version;
// a closed or failed watch starts over after a second (the list tells again which run).
func (b *Backend) watchStops(ctx context.Context, wc client.WithWatch, fn func(ref backend.Ref, reason string)) {
	for ctx.Err() == nil {
		var list codehubv1.WorkspaceList
		if err := wc.List(ctx, &list, client.InNamespace(b.cfg.Namespace)); err == nil {
			running := map[string]bool{}
			for i := range list.Items {
				running[list.Items[i].Name] = list.Items[i].Spec.Running
			}
			b.followStops(ctx, wc, list.ResourceVersion, running, fn)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (b *Backend) followStops(ctx context.Context, wc client.WithWatch, version string, running map[string]bool, fn func(ref backend.Ref, reason string)) {
	w, err := wc.Watch(ctx, &codehubv1.WorkspaceList{}, client.InNamespace(b.cfg.Namespace),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: version, AllowWatchBookmarks: true}})
	if err != nil {
		return
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			ws, isWorkspace := ev.Object.(*codehubv1.Workspace)
			if !isWorkspace {
				if ev.Type == watch.Error {
					return
				}
				continue // a bookmark
			}
			was := running[ws.Name]
			now := ev.Type != watch.Deleted && ws.Spec.Running
			running[ws.Name] = now
			if ev.Type == watch.Deleted {
				delete(running, ws.Name)
			}
			if was && !now {
				fn(backend.Ref{User: ws.Spec.User, Name: workspacebuild.NamedOf(ws)}, "") // decided elsewhere; the operator's Events record why
			}
		}
	}
}
