package testnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

const cniBinDir = "/usr/lib/cni"

var (
	logDir           = filepath.Join(StateDir, "logs")
	containerdSock   = filepath.Join(RunDir, "containerd.sock")
	containerdConfig = filepath.Join(StateDir, "containerd.toml")
	cniConfDir       = filepath.Join(StateDir, "cni", "net.d")
	kubeletRoot      = filepath.Join(StateDir, "kubelet")
	podLogsDir       = filepath.Join(StateDir, "pod-logs")
	resolvConf       = filepath.Join(StateDir, "resolv.conf")
	volumePluginDir  = filepath.Join(StateDir, "volume-plugins")
)

func kubeconfigPath(who string) string { return filepath.Join(StateDir, who+".kubeconfig") }

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		if p := filepath.Join(d, name); isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func writeConfigs(clusterDNS bool) error {
	runc, err := lookPath("runc")
	if err != nil {
		return err
	}
	for _, d := range []string{cniConfDir, kubeletRoot, podLogsDir, volumePluginDir, filepath.Join(StateDir, "cni", "ipam")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	for path, content := range renderConfigs(runc, clusterDNS) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// renderConfigs returns every configuration file of the node by path. With clusterDNS the
// kubelet gives ClusterFirst pods the node's DNS stand-in (dns.go) on NodeIP as their name
// server; without it pods have none.
func renderConfigs(runc string, clusterDNS bool) map[string]string {
	dns := ""
	if clusterDNS {
		dns = fmt.Sprintf("clusterDNS: [%q]\n", NodeIP)
	}
	files := map[string]string{
		containerdConfig: fmt.Sprintf(containerdTOML, StateDir, RunDir, containerdSock, PauseImage, runc, cniBinDir, cniConfDir),
		filepath.Join(cniConfDir, "10-"+Marker+".conflist"): fmt.Sprintf(cniConflist, Marker, Bridge, PodCIDR, NodeIP, ServiceCIDR, filepath.Join(StateDir, "cni", "ipam")),
		// No nameserver: a pod must not send DNS queries anywhere (nothing serves them here).
		resolvConf: "# " + Marker + ": no DNS server on purpose (none is reachable from pods)\noptions ndots:1\n",
		filepath.Join(StateDir, "kubelet.yaml"): fmt.Sprintf(kubeletYAML, pkiPath("ca.crt"), pkiPath("kubelet-serving.crt"), pkiPath("kubelet-serving.key"),
			"unix://"+containerdSock, resolvConf, volumePluginDir, podLogsDir, NodeIP, kubeletPort, kubeletHealthz, dns),
		filepath.Join(StateDir, "kube-proxy.yaml"): fmt.Sprintf(kubeProxyYAML, kubeconfigPath("kube-proxy"), NodeName, PodCIDR, NodeIP,
			proxyHealthz, proxyMetrics),
	}
	for who, cert := range map[string]string{"admin": "admin", "kubelet": "kubelet-client", "kube-controller-manager": "kube-controller-manager",
		"kube-scheduler": "kube-scheduler", "kube-proxy": "kube-proxy"} {
		files[kubeconfigPath(who)] = fmt.Sprintf(kubeconfigYAML, pkiPath("ca.crt"), fmt.Sprintf("https://%s:%d", NodeIP, APIServerPort),
			pkiPath(cert+".crt"), pkiPath(cert+".key"))
	}
	return files
}

// containerd 1.6 (Debian bookworm), CRI plugin. Required here (REAL-NODE.md):
// restrict_oom_score_adj (root lacks CAP_SYS_RESOURCE), netns_mounts_under_state_dir (another
// `ip netns add` on the machine must not break pod teardown), cgroupfs, a private CNI conf_dir.
const containerdTOML = `version = 2
root = "%[1]s/containerd/root"
state = "%[2]s/containerd/state"

[grpc]
  address = "%[3]s"
[ttrpc]
  address = "%[3]s.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "%[1]s/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "%[4]s"
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    disable_apparmor = true
    tolerate_missing_hugetlb_controller = true
    stream_server_address = "127.0.0.1"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "%[5]s"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "%[6]s"
      conf_dir = "%[7]s"
      max_conf_num = 1
`

// The bridge plugin on the bridge setupNetwork made; no masquerading; host-local IPAM with a
// route for the service CIDR only (the pod CIDR is the link's own): no default route in pods.
const cniConflist = `{
  "cniVersion": "1.0.0",
  "name": "%[1]s",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "%[2]s",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "%[3]s", "gateway": "%[4]s"}]],
        "routes": [{"dst": "%[5]s"}],
        "dataDir": "%[6]s"
      }
    }
  ]
}
`

// failCgroupV1: false — kubelet 1.36 refuses cgroup v1 otherwise (this machine is v1 hybrid).
// Image GC off (images are imported, never pulled back), low eviction thresholds (a shared
// disk), the kubelet's own directories under StateDir, webhook authn/authz (no anonymous).
const kubeletYAML = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: %[4]s
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[1]s
authorization:
  mode: Webhook
tlsCertFile: %[2]s
tlsPrivateKeyFile: %[3]s
resolvConf: %[5]s
volumePluginDir: %[6]s
podLogsDir: %[7]s
address: %[8]s
port: %[9]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[10]d
clusterDomain: cluster.local
%[11]simageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
maxPods: 30
`

// iptables mode; NodePorts on the bridge address only; conntrack and other sysctls left alone.
const kubeProxyYAML = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: %[1]s
hostnameOverride: %[2]s
clusterCIDR: %[3]s
bindAddress: %[4]s
nodePortAddresses: ["%[4]s/32"]
healthzBindAddress: 127.0.0.1:%[5]d
metricsBindAddress: 127.0.0.1:%[6]d
iptables:
  localhostNodePorts: false
  masqueradeAll: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`

const kubeconfigYAML = `apiVersion: v1
kind: Config
clusters:
- name: ` + Marker + `
  cluster:
    certificate-authority: %[1]s
    server: %[2]s
users:
- name: user
  user:
    client-certificate: %[3]s
    client-key: %[4]s
contexts:
- name: ` + Marker + `
  context:
    cluster: ` + Marker + `
    user: user
current-context: ` + Marker + `
`
