package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Phase is the lifecycle phase of a Workspace; the values match backend.State.
// +kubebuilder:validation:Enum=Pending;Starting;Running;Stopping;Stopped;Failed
type Phase string

const (
	PhasePending  Phase = "Pending"
	PhaseStarting Phase = "Starting"
	PhaseRunning  Phase = "Running"
	PhaseStopping Phase = "Stopping"
	PhaseStopped  Phase = "Stopped"
	PhaseFailed   Phase = "Failed"
)

// Condition types written to status.conditions.
const (
	// ConditionReady is True when the code-server pod is available.
	ConditionReady = "Ready"
	// ConditionReconciled is False when the operator could not apply an owned object.
	ConditionReconciled = "Reconciled"
)

// ReclaimPolicy says what happens to a home PVC when its Workspace is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type ReclaimPolicy string

const (
	// ReclaimRetain keeps the PVC (it carries no owner reference).
	ReclaimRetain ReclaimPolicy = "Retain"
	// ReclaimDelete lets garbage collection delete the PVC with the Workspace.
	ReclaimDelete ReclaimPolicy = "Delete"
)

// WorkspaceSpec is the desired state of one user's code-server.
type WorkspaceSpec struct {
	// User is the platform identity that owns this workspace, exactly as the
	// authenticator reports it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="user is immutable"
	User string `json:"user"`

	// Running scales the workspace to one pod (true) or none (false). Stopping never
	// deletes data.
	// +optional
	Running bool `json:"running,omitempty"`

	// Profile is the name of the admin-defined profile (the gateway's --profiles) the
	// workspace runs with. The gateway writes the profile's fields (image, resources, GPUs,
	// nodeSelector, tolerations, env, extensions, idleTimeout) into this spec at each start;
	// the operator only records the name (Deployment annotation, ProfileApplied event).
	// +optional
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$`
	Profile string `json:"profile,omitempty"`

	// UID and GID run the workspace as the user's unix ids when the platform knows them.
	// +optional
	UID *int64 `json:"uid,omitempty"`
	// +optional
	GID *int64 `json:"gid,omitempty"`

	// Image is the workspace image; the operator's default when empty.
	// +optional
	Image string `json:"image,omitempty"`
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// SecurityContext overrides the restricted pod security context the operator sets.
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`

	// Home is the volume mounted as the user's home directory.
	// +optional
	Home HomeSpec `json:"home,omitempty"`

	// Mounts are extra volumes.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Mounts []Mount `json:"mounts,omitempty"`

	// Extensions are VS Code extension ids (publisher.name, optionally @version) to have
	// installed on top of the image's builtin set; ids not in the image come from the
	// extension gallery at start (codehub-init --extensions).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=200
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][-A-Za-z0-9_]*\.[A-Za-z0-9][-A-Za-z0-9_.]*(@[0-9A-Za-z.+-]+)?$`
	Extensions []string `json:"extensions,omitempty"`

	// Conda configures conda environments shared with other IDEs.
	// +optional
	Conda *CondaSpec `json:"conda,omitempty"`

	// IdleTimeout stops the workspace after this long without activity; zero never does.
	// Activity is what a person does in it (through any gateway replica), "Keep running",
	// busy CPU reported from the pod, and the start itself (status.lastActivityTime).
	// +optional
	IdleTimeout *metav1.Duration `json:"idleTimeout,omitempty"`

	// MaxRunTime stops the workspace after it has been running this long, busy or not;
	// zero (the default) never does.
	// +optional
	MaxRunTime *metav1.Duration `json:"maxRunTime,omitempty"`

	// ServiceAccount sets what the workspace's own ServiceAccount may do.
	// +optional
	ServiceAccount ServiceAccountSpec `json:"serviceAccount,omitempty"`

	// There is deliberately no way to expose a workspace other than through the gateway:
	// code-server is reached only with the per-workspace credential the gateway holds.
}

// HomeSpec picks exactly one source for the home volume; a PVC from defaults when none.
// +kubebuilder:validation:XValidation:rule="(has(self.pvc) ? 1 : 0) + (has(self.existingClaim) ? 1 : 0) + (has(self.v3io) ? 1 : 0) <= 1",message="set at most one of pvc, existingClaim, v3io"
type HomeSpec struct {
	// +optional
	PVC *HomePVC `json:"pvc,omitempty"`
	// ExistingClaim is the name of a PVC in the Workspace's namespace.
	// +optional
	ExistingClaim string `json:"existingClaim,omitempty"`
	// V3IO mounts the user's home from the platform's FUSE driver.
	// +optional
	V3IO *V3IOVolume `json:"v3io,omitempty"`
}

// HomePVC is the template of the PVC the operator creates for the home directory.
type HomePVC struct {
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// +optional
	AccessModes []corev1.PersistentVolumeAccessMode `json:"accessModes,omitempty"`
	// +kubebuilder:default=Retain
	// +optional
	ReclaimPolicy ReclaimPolicy `json:"reclaimPolicy,omitempty"`
}

// Mount is one extra volume: a v3io FUSE mount or a CSI volume.
// +kubebuilder:validation:XValidation:rule="(has(self.v3io) ? 1 : 0) + (has(self.csi) ? 1 : 0) == 1",message="set exactly one of v3io, csi"
type Mount struct {
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$`
	Name string `json:"name"`
	// MountPath for a CSI volume; a v3io mount always lands at /v3io and /User.
	// +optional
	MountPath string `json:"mountPath,omitempty"`
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`
	// +optional
	V3IO *V3IOVolume `json:"v3io,omitempty"`
	// +optional
	CSI *corev1.CSIVolumeSource `json:"csi,omitempty"`
}

// V3IOVolume is the platform's FUSE mount (flexVolume driver v3io/fuse).
type V3IOVolume struct {
	// Container limits the mount to one data container; all containers when empty.
	// +optional
	Container string `json:"container,omitempty"`
	// SubPath within the container.
	// +optional
	SubPath string `json:"subPath,omitempty"`
	// DirsToCreate are directories the driver creates before mounting.
	// +optional
	DirsToCreate []V3IODir `json:"dirsToCreate,omitempty"`
	// SecretRef names the Secret holding the v3io access key.
	SecretRef corev1.LocalObjectReference `json:"secretRef"`
	// UserPath is the path, relative to the mount, that appears as /User; defaults to
	// users/<user>.
	// +optional
	UserPath string `json:"userPath,omitempty"`
}

// V3IODir is one directory the v3io driver creates.
type V3IODir struct {
	Name string `json:"name"`
	// Permissions as a decimal mode (488 is 0750).
	Permissions int32 `json:"permissions"`
}

// CondaSpec lists conda environment directories shared with other IDEs.
type CondaSpec struct {
	// +optional
	EnvsDirs []string `json:"envsDirs,omitempty"`
}

// ServiceAccountSpec adds rules to the workspace Role (read pods/services/configmaps).
type ServiceAccountSpec struct {
	// +optional
	ExtraRules []rbacv1.PolicyRule `json:"extraRules,omitempty"`
}

// WorkspaceStatus is what the operator observed.
type WorkspaceStatus struct {
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// URL is where the gateway (in-cluster) reaches code-server.
	// +optional
	URL string `json:"url,omitempty"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// LastActivityTime is the workspace's one activity mark, written by any gateway
	// replica at a bounded rate; the operator stops the workspace spec.idleTimeout after it.
	// +optional
	LastActivityTime *metav1.Time `json:"lastActivityTime,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Start is the progress of the current (or last) start of the workspace pod, as the
	// cluster reports it: the stage, when each step happened, and what stops it if anything.
	// +optional
	Start *StartStatus `json:"start,omitempty"`
	// LastTermination is the last abnormal end of code-server's container (out of memory, a
	// crash), kept after its pod is gone.
	// +optional
	LastTermination *Termination `json:"lastTermination,omitempty"`
}

// StartStage is where a workspace pod's start is.
// +kubebuilder:validation:Enum=Pending;Scheduling;CreatingContainer;StartingCodeServer;Ready
type StartStage string

const (
	// StagePending: running was asked for, no pod exists yet.
	StagePending StartStage = "Pending"
	// StageScheduling: the pod waits for a node.
	StageScheduling StartStage = "Scheduling"
	// StageCreatingContainer: on a node; volumes are mounted and the container is created.
	StageCreatingContainer StartStage = "CreatingContainer"
	// StageStartingCodeServer: the container runs; code-server is not answering yet.
	StageStartingCodeServer StartStage = "StartingCodeServer"
	// StageReady: code-server answers its readiness probe.
	StageReady StartStage = "Ready"
)

// Reasons a start does not go on (StartStatus.Reason); the phase is Failed with each.
const (
	ReasonImageMissing      = "ImageMissing"
	ReasonUnschedulable     = "Unschedulable"
	ReasonVolumeMountFailed = "VolumeMountFailed"
	ReasonCrashLooping      = "CrashLooping"
	ReasonOOMKilled         = "OOMKilled"
	ReasonContainerConfig   = "ContainerConfigError"
)

// StartStatus is one start of the workspace pod.
type StartStatus struct {
	// Pod is the pod of this start.
	// +optional
	Pod string `json:"pod,omitempty"`
	// Stage is where the start is now.
	Stage StartStage `json:"stage"`
	// Reason is set when the start cannot go on by itself (ImageMissing, Unschedulable,
	// VolumeMountFailed, CrashLooping, OOMKilled, ContainerConfigError); Message says why in
	// the cluster's words.
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// CreatedAt is when the pod was created; ScheduledAt when it got a node;
	// ContainerStartedAt when code-server's container started; ReadyAt when it answered.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// +optional
	ScheduledAt *metav1.Time `json:"scheduledAt,omitempty"`
	// +optional
	ContainerStartedAt *metav1.Time `json:"containerStartedAt,omitempty"`
	// +optional
	ReadyAt *metav1.Time `json:"readyAt,omitempty"`
	// PreviousRun is how the run before this start ended, when it ended abnormally (e.g.
	// out of memory), so the start can say so.
	// +optional
	PreviousRun *Termination `json:"previousRun,omitempty"`
}

// Termination is how code-server's container ended.
type Termination struct {
	// Reason is the runtime's (OOMKilled, Error, ...).
	Reason string `json:"reason"`
	// +optional
	ExitCode int32 `json:"exitCode,omitempty"`
	// Message is the container's termination message: the end of its log when it failed.
	// +optional
	Message string `json:"message,omitempty"`
	// MemoryLimit is the container's memory limit then, if any.
	// +optional
	MemoryLimit string `json:"memoryLimit,omitempty"`
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Restarts is the container's restart count when it was recorded.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
}

// Workspace is one user's code-server.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ws
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.user`
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=`.spec.profile`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Running",type=boolean,JSONPath=`.spec.running`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Workspace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkspaceSpec   `json:"spec,omitempty"`
	Status WorkspaceStatus `json:"status,omitempty"`
}

// WorkspaceList is a list of Workspaces.
// +kubebuilder:object:root=true
type WorkspaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workspace `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Workspace{}, &WorkspaceList{})
}
