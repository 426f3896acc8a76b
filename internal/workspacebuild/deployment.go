package workspacebuild

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/agent"
)

// Deployment runs code-server through codehub-init, one replica while spec.running.
// credential is the value in the workspace's Secret (only a hash of it reaches the object).
func Deployment(ws *codehubv1.Workspace, o Options, credential string) *appsv1.Deployment {
	replicas := int32(0)
	if ws.Spec.Running {
		replicas = 1
	}
	meta := objectMeta(ws, Base(ws), true)
	if ws.Spec.Profile != "" {
		meta.Annotations[AnnotationProfile] = ws.Spec.Profile
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(ws)},
			// A ReadWriteOnce home cannot be attached to an old and a new pod at once.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: PodTemplate(ws, o, credential),
		},
	}
}

// PodTemplate is the workspace pod; also what the restricted-PSA dry-run test submits. The
// credential reaches the container only through a secretKeyRef; a hash of it in the
// template's annotations restarts the pod when it changes ("" leaves the hash out).
func PodTemplate(ws *codehubv1.Workspace, o Options, credential string) corev1.PodTemplateSpec {
	vols, mounts := volumes(ws)
	image := ws.Spec.Image
	if image == "" {
		image = o.Image
	}
	probe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
			PeriodSeconds:    period,
			FailureThreshold: failures,
		}
	}
	env := []corev1.EnvVar{
		{Name: "HOME", Value: HomePath},
		{Name: "CODEHUB_USER", Value: ws.Spec.User},
	}
	if n := NamedOf(ws); n != "" {
		// codehub-init's agent token names the workspace (agent.Subject), as the gateway checks.
		env = append(env, corev1.EnvVar{Name: agent.EnvWorkspace, Value: n})
	}
	proxyURI := PortProxyURI(ws, o)
	for _, e := range ws.Spec.Env {
		// The credential is the Secret's, never the spec's; the proxy URI the operator's
		// when it sets one.
		if e.Name != EnvCredential && (proxyURI == "" || e.Name != EnvProxyURI) {
			env = append(env, e)
		}
	}
	if proxyURI != "" {
		env = append(env, corev1.EnvVar{Name: EnvProxyURI, Value: proxyURI})
	}
	if o.GatewayURL != "" {
		// codehub-init derives the agent token from the credential; busy CPU in the pod is
		// reported to the gateway, which records it as activity.
		env = append(env, corev1.EnvVar{Name: agent.EnvURL, Value: o.GatewayURL}, corev1.EnvVar{Name: EnvReportBusy, Value: "true"})
	}
	if o.PublicURL != "" {
		env = append(env, corev1.EnvVar{Name: agent.EnvPublicURL, Value: o.PublicURL})
	}
	env = append(env, credentialEnv(ws))
	annotations := map[string]string{AnnotationUser: ws.Spec.User, AnnotationConfigHash: hashJSON(ConfigMap(ws).Data)}
	if h := credentialHash(credential); h != "" {
		annotations[AnnotationCredentialHash] = h
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      Labels(ws),
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			ServiceAccountName: Base(ws),
			SecurityContext:    podSecurityContext(ws, o),
			NodeSelector:       ws.Spec.NodeSelector,
			Tolerations:        ws.Spec.Tolerations,
			Affinity:           ws.Spec.Affinity,
			Volumes:            vols,
			Containers: []corev1.Container{{
				Name:            "code-server",
				Image:           image,
				ImagePullPolicy: ws.Spec.ImagePullPolicy,
				Command:         o.InitCommand,
				Args:            []string{"--config", InitConfigFile},
				Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
				Env:             env,
				Resources:       ws.Spec.Resources,
				VolumeMounts:    mounts,
				// The startup probe asks every second (for at most 5 min): code-server answers
				// ~1 s after its container starts, and a 10 s period made every cold start wait
				// for the second probe (measured on the test node: Ready 9-11 s after the
				// container started, ~2 s with this).
				StartupProbe:   probe(1, 300),
				ReadinessProbe: probe(10, 3),
				LivenessProbe:  probe(10, 6),
				// A container that fails leaves the end of its log as its termination message,
				// which the Workspace's status reports (why code-server keeps exiting).
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot:             ptr.To(true),
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
}

// EnvReportBusy turns on codehub-init's busy reporter (wsinit.EnvReportBusy).
const EnvReportBusy = "CODEHUB_REPORT_BUSY"

// EnvProxyURI is code-server's template for the links of VS Code's Ports view.
const EnvProxyURI = "VSCODE_PROXY_URI"

// PortProxyURI is the VSCODE_PROXY_URI of a workspace, //p{{port}}--<workspace>.<base>/
// (code-server substitutes {{port}}), or "" without o.WorkspaceOrigins. <workspace> is the
// name the gateway routes by (FullName).
func PortProxyURI(ws *codehubv1.Workspace, o Options) string {
	if o.WorkspaceOrigins == "" {
		return ""
	}
	return "//p{{port}}--" + FullName(ws) + "." + o.WorkspaceOrigins + "/"
}

// podSecurityContext runs as the user's uid/gid when known. FUSE needs no extra privilege in
// the pod (the node's flexVolume driver mounts it), and the uid must be the platform's uid
// for the user to write to /User.
//
// fsGroup makes a PVC home writable for that uid, but the kubelet applies it to every volume
// that supports it, flexVolumes included: unless the driver's init opts out, it changes the
// group of every file of the v3io mount (the whole data platform) at each pod start
// (measured with a driver that does not opt out, test/onnode). So: fsGroupChangePolicy
// OnRootMismatch with every fsGroup (a volume whose root already has the group is not walked
// again; it also keeps a large home PVC from being walked at every start), and no fsGroup at
// all when the home is on v3io (the scratch home is an emptyDir, writable without it).
func podSecurityContext(ws *codehubv1.Workspace, o Options) *corev1.PodSecurityContext {
	if ws.Spec.SecurityContext != nil {
		return ws.Spec.SecurityContext.DeepCopy()
	}
	uid, gid := o.UID, o.GID
	if ws.Spec.UID != nil {
		uid = *ws.Spec.UID
	}
	if ws.Spec.GID != nil {
		gid = *ws.Spec.GID
	}
	sc := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To(uid),
		RunAsGroup:     ptr.To(gid),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if ws.Spec.Home.V3IO == nil {
		sc.FSGroup = ptr.To(gid)
		sc.FSGroupChangePolicy = ptr.To(corev1.FSGroupChangeOnRootMismatch)
	}
	return sc
}
