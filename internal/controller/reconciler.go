// Package controller reconciles Workspaces into the objects workspacebuild describes.
package controller

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/idle"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// +kubebuilder:rbac:groups=codehub.io,resources=workspaces,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=codehub.io,resources=workspaces/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=codehub.io,resources=workspaces/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=serviceaccounts;configmaps;services;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods;pods/log,verbs=get;list;watch
// Why a workspace pod does not start is sometimes only in its events (a volume that cannot be mounted).
// +kubebuilder:rbac:groups="",resources=events,verbs=get;list;watch
// The credential Secret is created once and, only for a re-created Workspace, rewritten; never patched or deleted (GC does that).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// Workspace Roles carry user-chosen extra rules the operator itself does not hold, hence escalate and bind.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete;escalate;bind
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// Reconciler makes each Workspace's owned objects match its spec and reports its status.
type Reconciler struct {
	Client client.Client
	// APIReader reads around the cache (the manager's GetAPIReader); Client when nil. Used
	// only when a Secret the cache does not show already exists.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Options   workspacebuild.Options
	// Clock is the clock for idle stops; the system clock when nil.
	Clock idle.Clock
	// MaxConcurrentReconciles: a pass is ~10 sequential apiserver round trips, so several
	// Workspaces in flight at once keep a mass start (every user at 9am) short.
	MaxConcurrentReconciles int
}

func (r *Reconciler) now() time.Time {
	if r.Clock != nil {
		return r.Clock.Now()
	}
	return time.Now()
}

// SetupWithManager registers the controller and its Owns() watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&codehubv1.Workspace{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)})
	for _, obj := range workspacebuild.OwnedKinds() {
		b = b.Owns(obj)
	}
	// The workspace pod (owned by the Deployment's ReplicaSet) says how its start goes.
	return b.Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.podWorkspace)).
		Complete(r)
}

// podWorkspace maps a workspace pod to its Workspace: the pod's instance label is the
// Deployment's name, and the Deployment's controller is the Workspace.
func (r *Reconciler) podWorkspace(ctx context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[workspacebuild.LabelInstance]
	if name == "" {
		return nil
	}
	dep := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}, dep); err != nil {
		return nil
	}
	owner := metav1.GetControllerOf(dep)
	if owner == nil || owner.Kind != "Workspace" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: owner.Name}}}
}

// Reconcile is level-triggered: it derives everything from the Workspace and what exists.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ws := &codehubv1.Workspace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ws); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ws.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // garbage collection removes the owned objects
	}
	logger := log.FromContext(ctx).WithValues("user", ws.Spec.User)

	dep := &appsv1.Deployment{}
	applyErr := r.ensureNotTaken(ctx, ws, dep)
	prevProfile, hadDeployment := dep.Annotations[workspacebuild.AnnotationProfile], dep.Name != ""
	var credential string
	if applyErr == nil {
		credential, applyErr = r.credential(ctx, ws)
	}
	if applyErr == nil {
		applyErr = r.apply(ctx, ws, credential)
	}
	if applyErr != nil {
		logger.Error(applyErr, "applying workspace objects")
	} else if r.Recorder != nil && ws.Spec.Profile != "" && (!hadDeployment || prevProfile != ws.Spec.Profile) {
		// The gateway wrote the profile's fields into the spec; the pod gets them at its
		// next start (a running pod is only restarted by a spec change the gateway makes
		// while it is stopped).
		was := ""
		if hadDeployment && prevProfile != "" {
			was = fmt.Sprintf(" (was %q)", prevProfile)
		}
		r.Recorder.Eventf(ws, nil, corev1.EventTypeNormal, "ProfileApplied", "Reconcile", "profile %q%s", ws.Spec.Profile, was)
	}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ws.Namespace, Name: workspacebuild.Base(ws)}, dep); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}

	pod, err := r.currentPod(ctx, ws)
	if err != nil {
		return ctrl.Result{}, err
	}
	var events []corev1.Event
	if ws.Spec.Running {
		if events, err = r.startEvents(ctx, pod); err != nil {
			logger.Error(err, "reading the events of the workspace pod and its claims")
		}
	}
	start, last := progress(ws, pod, events)
	next := computeStatus(ws, dep, start, last, applyErr)
	if err := r.writeStatus(ctx, ws, next); apierrors.IsConflict(err) {
		// A newer Workspace exists, and its watch event has queued another pass.
		return ctrl.Result{}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	if applyErr != nil {
		return ctrl.Result{}, applyErr
	}
	res, err := r.idleStop(ctx, ws)
	if err == nil && start != nil && ws.Spec.Running && (start.Stage == codehubv1.StageCreatingContainer || pod != nil && waitsForClaims(pod)) {
		// Only events tell why a container is not created yet (a volume that does not mount)
		// or why a claim stays unbound.
		if res.RequeueAfter == 0 || res.RequeueAfter > eventsRequeue {
			res.RequeueAfter = eventsRequeue
		}
	}
	return res, err
}

// ensureNotTaken refuses a second Workspace for a user who already has one in the namespace:
// both would want the same deterministic object names.
func (r *Reconciler) ensureNotTaken(ctx context.Context, ws *codehubv1.Workspace, dep *appsv1.Deployment) error {
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: ws.Namespace, Name: workspacebuild.Base(ws)}, dep)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	owner := metav1.GetControllerOf(dep)
	if owner == nil || owner.UID == ws.UID {
		return nil
	}
	// An owner that was deleted (garbage collection has not caught up) is taken over: apply
	// replaces the owner reference, as a re-created Workspace should.
	return r.ownerGone(ctx, ws, owner)
}
