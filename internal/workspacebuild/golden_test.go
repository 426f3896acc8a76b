package workspacebuild

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// workspace is the golden files' Workspace of user: the names and UID below are what
// testdata/ was written with.
func workspace(user string, mutate func(*codehubv1.Workspace)) *codehubv1.Workspace {
	return kubetest.Workspace(user, kubetest.Named("ws-"+user), kubetest.InNamespace("default-tenant"),
		kubetest.WithUID("00000000-0000-0000-0000-000000000001"), kubetest.With(mutate))
}

// v3ioSpec is the mount the platform's Jupyter service uses for a user's data.
func v3ioSpec() *codehubv1.V3IOVolume {
	return &codehubv1.V3IOVolume{
		DirsToCreate: []codehubv1.V3IODir{{Name: "users//alice", Permissions: 488}},
		SecretRef:    corev1.LocalObjectReference{Name: "alice-v3io-fuse"},
	}
}

var cases = map[string]*codehubv1.Workspace{
	"default": workspace("alice", nil),
	"stopped-uid-extra-rules": workspace("Bob.Smith@corp", func(ws *codehubv1.Workspace) {
		ws.Spec.Running = false
		ws.Spec.UID, ws.Spec.GID = ptr.To[int64](5001), ptr.To[int64](5000)
		ws.Spec.Image, ws.Spec.ImagePullPolicy = "registry.example/codehub-workspace:1.2", corev1.PullAlways
		ws.Spec.Env = []corev1.EnvVar{{Name: "V3IO_API", Value: "v3io-webapi:8081"}}
		ws.Spec.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}}
		ws.Spec.NodeSelector = map[string]string{"app.iguazio.com/lifecycle": "non-preemptible"}
		ws.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
		ws.Spec.Conda = &codehubv1.CondaSpec{EnvsDirs: []string{"/User/.conda/envs"}}
		ws.Spec.Extensions = []string{"ms-toolsai.jupyter", "charliermarsh.ruff@2024.56.0"}
		ws.Spec.IdleTimeout = &metav1.Duration{Duration: 3600e9}
		ws.Spec.ServiceAccount.ExtraRules = []rbacv1.PolicyRule{{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "create"}}}
		ws.Spec.Home.PVC = &codehubv1.HomePVC{Size: ptr.To(resource.MustParse("20Gi")), StorageClassName: ptr.To("fast"), ReclaimPolicy: codehubv1.ReclaimDelete}
	}),
	"v3io-mount": workspace("alice", func(ws *codehubv1.Workspace) {
		ws.Spec.Mounts = []codehubv1.Mount{{Name: "v3io", V3IO: v3ioSpec()}}
	}),
	"v3io-home": workspace("alice", func(ws *codehubv1.Workspace) {
		ws.Spec.Home.V3IO = v3ioSpec()
	}),
	// What the gateway writes for a GPU profile (internal/backend/kubernetes/profile.go).
	"profile-gpu": workspace("frank", func(ws *codehubv1.Workspace) {
		ws.Spec.Profile = "gpu"
		ws.Spec.Image = "registry.example/codehub-workspace-cuda:1"
		ws.Spec.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), "nvidia.com/gpu": resource.MustParse("1")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Gi"), "nvidia.com/gpu": resource.MustParse("1")},
		}
		ws.Spec.NodeSelector = map[string]string{"nvidia.com/gpu.present": "true"}
		ws.Spec.Tolerations = []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
		ws.Spec.Env = []corev1.EnvVar{{Name: "CUDA_VISIBLE_DEVICES", Value: "0"}}
		ws.Spec.IdleTimeout = &metav1.Duration{Duration: 1800e9}
	}),
	"workspace-origins": workspace("dave", nil), // with caseOptions below
	"agent":             workspace("erin", nil), // with caseOptions below
	"existing-claim-csi": workspace("carol", func(ws *codehubv1.Workspace) {
		ws.Spec.Home.ExistingClaim = "carol-home"
		ws.Spec.Mounts = []codehubv1.Mount{{Name: "datasets", MountPath: "/data", ReadOnly: true, CSI: &corev1.CSIVolumeSource{Driver: "nfs.csi.k8s.io", VolumeAttributes: map[string]string{"share": "/datasets"}}}}
	}),
}

// caseOptions change the operator's options for one case.
var caseOptions = map[string]func(*Options){
	"workspace-origins": func(o *Options) { o.WorkspaceOrigins = "vscode.example.com" },
	"agent": func(o *Options) {
		o.GatewayURL, o.PublicURL = "http://codehub-gateway.codehub.svc:8080", "https://vscode.example.com/"
	},
}

// testCredential stands for the random value the controller puts in the Secret.
const testCredential = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestGolden(t *testing.T) {
	for name, ws := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			o := DefaultOptions()
			if f := caseOptions[name]; f != nil {
				f(&o)
			}
			objs := append([]client.Object{CredentialSecret(ws, testCredential)}, Objects(ws, o, testCredential)...)
			for _, obj := range objs {
				b, err := yaml.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				buf.WriteString("---\n")
				buf.Write(b)
			}
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/workspacebuild -update)", err)
			}
			if !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("%s differs from the built objects; if the change is intended run go test ./internal/workspacebuild -update and review the diff\n--- built:\n%s", path, buf.String())
			}
		})
	}
}
