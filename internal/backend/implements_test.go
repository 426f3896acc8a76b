package backend_test

import (
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	"github.com/codehub-dev/codehub/internal/backend/local"
)

// full is the Backend and the optional interfaces the gateway looks for on it that both
// backends offer, so no feature goes missing from one silently (the build fails instead).
// PortDialer is the local backend's alone: a pod's ports are reached inside the pod.
type full interface {
	backend.Backend
	backend.ActivityRecorder
	backend.StopNotifier
	backend.ProfileSetter
	backend.Deleter
	backend.DeleteDescriber
}

var (
	_ full               = (*local.Backend)(nil)
	_ full               = (*kubernetes.Backend)(nil)
	_ backend.PortDialer = (*local.Backend)(nil)
)
