package workspacebuild

import (
	"encoding/json"
	"path"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
)

// V3IODriver is the platform's FUSE flexVolume driver.
const V3IODriver = "v3io/fuse"

// ReclaimPolicy of the Workspace's home PVC template (Retain unless it says Delete).
func ReclaimPolicy(ws *codehubv1.Workspace) codehubv1.ReclaimPolicy {
	if p := ws.Spec.Home.PVC; p != nil && p.ReclaimPolicy == codehubv1.ReclaimDelete {
		return codehubv1.ReclaimDelete
	}
	return codehubv1.ReclaimRetain
}

// WantsHomeClaim says whether the operator creates the home PVC.
func WantsHomeClaim(ws *codehubv1.Workspace) bool {
	return ws.Spec.Home.ExistingClaim == "" && ws.Spec.Home.V3IO == nil
}

// HomeClaim is the home PVC. With Retain it has no owner reference, so deleting the
// Workspace leaves it (and the user's data) for the next Workspace of the same user.
func HomeClaim(ws *codehubv1.Workspace, o Options) *corev1.PersistentVolumeClaim {
	t := ws.Spec.Home.PVC
	if t == nil {
		t = &codehubv1.HomePVC{}
	}
	size := o.HomeSize
	if t.Size != nil {
		size = *t.Size
	}
	modes := t.AccessModes
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: objectMeta(ws, HomeClaimName(ws), ReclaimPolicy(ws) == codehubv1.ReclaimDelete),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      modes,
			StorageClassName: t.StorageClassName,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
}

// V3IOVolume renders the flexVolume exactly as the platform's Jupyter service does.
func V3IOVolume(name string, v *codehubv1.V3IOVolume) corev1.Volume {
	opts := map[string]string{}
	if v.Container != "" {
		opts["container"] = v.Container
	}
	if v.SubPath != "" {
		opts["subPath"] = v.SubPath
	}
	if len(v.DirsToCreate) > 0 {
		b, err := json.Marshal(v.DirsToCreate)
		if err != nil {
			panic(err) // strings and ints only
		}
		opts["dirsToCreate"] = string(b)
	}
	secret := v.SecretRef
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{FlexVolume: &corev1.FlexVolumeSource{
		Driver:    V3IODriver,
		SecretRef: &secret,
		Options:   opts,
	}}}
}

// v3ioUserPath is where in the v3io mount the user's home lives (shown as /User).
func v3ioUserPath(ws *codehubv1.Workspace, v *codehubv1.V3IOVolume) string {
	if v.UserPath != "" {
		return v.UserPath
	}
	if v.Container != "" {
		return ws.Spec.User
	}
	return path.Join("users", ws.Spec.User)
}

// volumes returns the pod's volumes and the container's mounts.
func volumes(ws *codehubv1.Workspace) ([]corev1.Volume, []corev1.VolumeMount) {
	vols := []corev1.Volume{{Name: "init-config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: Base(ws)},
	}}}}
	mounts := []corev1.VolumeMount{{Name: "init-config", MountPath: InitConfigDir, ReadOnly: true}}

	addV3IO := func(name string, v *codehubv1.V3IOVolume, readOnly bool) {
		vols = append(vols, V3IOVolume(name, v))
		mounts = append(mounts,
			corev1.VolumeMount{Name: name, MountPath: V3IOPath, ReadOnly: readOnly},
			corev1.VolumeMount{Name: name, MountPath: V3IOUserPath, SubPath: v3ioUserPath(ws, v), ReadOnly: readOnly},
		)
	}

	switch h := ws.Spec.Home; {
	case h.V3IO != nil:
		addV3IO("home", h.V3IO, false)
		// code-server's own state must not live on FUSE (it renames directories), so the
		// home dir proper is scratch space and the user's files are under /User.
		vols = append(vols, corev1.Volume{Name: "scratch-home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "scratch-home", MountPath: HomePath})
	case h.ExistingClaim != "":
		vols = append(vols, claimVolume("home", h.ExistingClaim))
		mounts = append(mounts, corev1.VolumeMount{Name: "home", MountPath: HomePath})
	default:
		vols = append(vols, claimVolume("home", HomeClaimName(ws)))
		mounts = append(mounts, corev1.VolumeMount{Name: "home", MountPath: HomePath})
	}

	for _, m := range ws.Spec.Mounts {
		name := "mount-" + m.Name
		switch {
		case m.V3IO != nil:
			if ws.Spec.Home.V3IO != nil {
				continue // /v3io and /User are already mounted from the home
			}
			addV3IO(name, m.V3IO, m.ReadOnly)
		case m.CSI != nil:
			csi := *m.CSI
			vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{CSI: &csi}})
			mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: m.MountPath, ReadOnly: m.ReadOnly})
		}
	}
	return vols, mounts
}

func claimVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}
