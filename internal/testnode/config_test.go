package testnode

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The node's configuration files carry the network-safety settings (checked here without a
// node; test/node runs the real one).
func TestConfigsKeepPodsOnTheNode(t *testing.T) {
	files := renderConfigs("/usr/sbin/runc", false)

	var cni struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type   string `json:"type"`
			Bridge string `json:"bridge"`
			IPMasq bool   `json:"ipMasq"`
			IPAM   struct {
				Ranges  [][]struct{ Subnet, Gateway string } `json:"ranges"`
				Routes  []struct{ Dst, GW string }           `json:"routes"`
				DataDir string                               `json:"dataDir"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(files[filepath.Join(cniConfDir, "10-"+Marker+".conflist")]), &cni); err != nil {
		t.Fatalf("CNI conflist: %v", err)
	}
	if len(cni.Plugins) != 1 || cni.Plugins[0].Type != "bridge" || cni.Plugins[0].Bridge != Bridge || cni.Plugins[0].IPMasq {
		t.Errorf("CNI plugins = %+v, want one bridge plugin on %s without masquerading", cni.Plugins, Bridge)
	}
	ipam := cni.Plugins[0].IPAM
	if len(ipam.Routes) != 1 || ipam.Routes[0].Dst != ServiceCIDR {
		t.Errorf("pod routes = %+v, want only the service CIDR %s (no default route)", ipam.Routes, ServiceCIDR)
	}
	if len(ipam.Ranges) != 1 || ipam.Ranges[0][0].Subnet != PodCIDR || ipam.Ranges[0][0].Gateway != NodeIP {
		t.Errorf("IPAM ranges = %+v", ipam.Ranges)
	}
	if !strings.HasPrefix(ipam.DataDir, StateDir) {
		t.Errorf("IPAM dataDir %s is outside %s", ipam.DataDir, StateDir)
	}

	if strings.Contains(files[resolvConf], "nameserver") {
		t.Errorf("resolv.conf for pods names a nameserver:\n%s", files[resolvConf])
	}
	var kubelet map[string]any
	if err := yaml.Unmarshal([]byte(files[filepath.Join(StateDir, "kubelet.yaml")]), &kubelet); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"resolvConf": resolvConf, "failCgroupV1": false, "cgroupDriver": "cgroupfs",
		"imageGCHighThresholdPercent": float64(100), "readOnlyPort": float64(0), "podLogsDir": podLogsDir, "volumePluginDir": volumePluginDir} {
		if kubelet[key] != want {
			t.Errorf("kubelet %s = %v, want %v", key, kubelet[key], want)
		}
	}
	if anon := kubelet["authentication"].(map[string]any)["anonymous"].(map[string]any)["enabled"]; anon != false {
		t.Errorf("kubelet anonymous auth = %v", anon)
	}
	var proxy map[string]any
	if err := yaml.Unmarshal([]byte(files[filepath.Join(StateDir, "kube-proxy.yaml")]), &proxy); err != nil {
		t.Fatal(err)
	}
	if npa, _ := proxy["nodePortAddresses"].([]any); len(npa) != 1 || npa[0] != NodeIP+"/32" {
		t.Errorf("kube-proxy nodePortAddresses = %v, want only %s/32", proxy["nodePortAddresses"], NodeIP)
	}
	if proxy["mode"] != "iptables" {
		t.Errorf("kube-proxy mode = %v", proxy["mode"])
	}
	toml := files[containerdConfig]
	for _, want := range []string{"restrict_oom_score_adj = true", "netns_mounts_under_state_dir = true", "SystemdCgroup = false",
		`conf_dir = "` + cniConfDir + `"`, `sandbox_image = "` + PauseImage + `"`, `root = "` + StateDir, `address = "` + containerdSock + `"`} {
		if !strings.Contains(toml, want) {
			t.Errorf("containerd config lacks %s", want)
		}
	}
}

func TestGuardRules(t *testing.T) {
	rules := guardRules()
	has := func(bin string, parts ...string) bool {
		for _, r := range rules[bin] {
			if strings.Contains(strings.Join(r, " "), strings.Join(parts, " ")) && r[len(r)-1] == "DROP" {
				return true
			}
		}
		return false
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		if !has(bin, "-i", Bridge, "!", "-o", Bridge) {
			t.Errorf("%s: no DROP for traffic from the bridge out of another interface: %v", bin, rules[bin])
		}
		if !has(bin, "!", "-i", Bridge, "-o", Bridge) {
			t.Errorf("%s: no DROP for traffic forwarded into the bridge: %v", bin, rules[bin])
		}
		for _, r := range rules[bin] {
			if !strings.Contains(strings.Join(r, " "), Marker+" guard") {
				t.Errorf("%s rule without the marker comment (teardown would miss it): %v", bin, r)
			}
		}
	}
	for _, line := range []string{`-A FORWARD -i codehub-br0 ! -o codehub-br0 -m comment --comment "codehub-testnode guard" -j DROP`,
		"-A KUBE-SERVICES -d 10.214.0.1/32 -j KUBE-SVC-X", ":KUBE-FIREWALL - [0:0]", "-A INPUT -j KUBE-FIREWALL"} {
		if !isOurs(line) {
			t.Errorf("isOurs(%q) = false", line)
		}
	}
	for _, line := range []string{"-A FORWARD -o cni-podman0 -j CNI-FORWARD", "-A POSTROUTING -s 10.88.0.0/16 -j CNI-abc"} {
		if isOurs(line) {
			t.Errorf("isOurs(%q) = true: another program's rule would be deleted", line)
		}
	}
}

// With ClusterDNS the kubelet names the node's DNS stand-in (on the bridge address, so a
// pod's query never leaves the machine); without it no cluster DNS at all.
func TestKubeletClusterDNS(t *testing.T) {
	for _, on := range []bool{false, true} {
		var kubelet map[string]any
		if err := yaml.Unmarshal([]byte(renderConfigs("/usr/sbin/runc", on)[filepath.Join(StateDir, "kubelet.yaml")]), &kubelet); err != nil {
			t.Fatal(err)
		}
		got, _ := kubelet["clusterDNS"].([]any)
		switch {
		case on && (len(got) != 1 || got[0] != NodeIP):
			t.Errorf("clusterDNS = %v, want [%s]", kubelet["clusterDNS"], NodeIP)
		case !on && kubelet["clusterDNS"] != nil:
			t.Errorf("clusterDNS = %v without the option", kubelet["clusterDNS"])
		}
		if kubelet["clusterDomain"] != ClusterDomain {
			t.Errorf("clusterDomain = %v", kubelet["clusterDomain"])
		}
	}
}
