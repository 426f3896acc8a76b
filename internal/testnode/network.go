package testnode

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sysctls the node changes (ip_forward: the CNI bridge plugin; the rest: the kubelet's
// "kernel tunables", which it sets unless protectKernelDefaults) or must leave alone; all are
// recorded before the first change and restored (and checked) on teardown.
var sysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv6/conf/all/forwarding",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
	"net/ipv4/conf/all/route_localnet",
	"net/netfilter/nf_conntrack_max",
	"net/bridge/bridge-nf-call-iptables",
}

// Paths the kubelet and CNI hard-code outside the node's directories. Teardown removes what
// the node put there, and each path itself when the baseline says it did not exist before.
var hardcodedPaths = []string{
	"/var/lib/kubelet/device-plugins", "/var/lib/kubelet",
	"/var/log/containers",
	"/var/lib/cni/results", "/var/lib/cni",
}

// watchedPaths are defaults the node's configuration moves elsewhere: they must not appear
// (checked by Leftovers, never removed).
var watchedPaths = []string{"/var/run/kubernetes", "/opt/containerd", "/etc/kubernetes", "/var/log/pods", "/etc/cni/net.d", "/var/lib/containerd"}

type baseline struct {
	Sysctls map[string]string `json:"sysctls"`
	// Existed says which hardcodedPaths were there before the node.
	Existed map[string]bool `json:"existed"`
}

var baselineFile = filepath.Join(RunDir, "baseline.json")

func readSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func writeSysctl(name, value string) error {
	return os.WriteFile("/proc/sys/"+name, []byte(value+"\n"), 0o644)
}

func recordBaseline() error {
	if err := os.MkdirAll(RunDir, 0o700); err != nil {
		return err
	}
	b := baseline{Sysctls: map[string]string{}, Existed: map[string]bool{}}
	for _, s := range sysctls {
		if v := readSysctl(s); v != "" {
			b.Sysctls[s] = v
		}
	}
	for _, p := range append(append([]string{}, hardcodedPaths...), watchedPaths...) {
		_, err := os.Lstat(p)
		b.Existed[p] = err == nil
	}
	data, _ := json.MarshalIndent(b, "", "  ")
	return os.WriteFile(baselineFile, data, 0o600)
}

func readBaseline() (*baseline, error) {
	data, err := os.ReadFile(baselineFile)
	if err != nil {
		return nil, err
	}
	var b baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// defaultInterfaces are the interfaces of this machine's default routes (v4 and v6).
func defaultInterfaces() []string {
	var ifs []string
	for _, fam := range []string{"-4", "-6"} {
		out, _ := run("ip", fam, "route", "show", "default")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			for i := 0; i+1 < len(f); i++ {
				if f[i] == "dev" && !contains(ifs, f[i+1]) {
					ifs = append(ifs, f[i+1])
				}
			}
		}
	}
	return ifs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkAddressesFree refuses to start when the node's ranges are already in use here.
func checkAddressesFree() error {
	out, _ := run("ip", "-4", "route", "show", "table", "all")
	for _, line := range strings.Split(out, "\n") {
		for _, cidr := range []string{"10.213.", "10.214."} {
			if strings.Contains(line, cidr) {
				return fmt.Errorf("this machine already routes %s* (%s): the node's ranges are in use", cidr, strings.TrimSpace(line))
			}
		}
	}
	return nil
}

// guardRules are the FORWARD DROP rules (chain spec without -A/-I), per iptables binary. They go
// into the mangle table (before anything kube-proxy or the kubelet put into filter) and into
// filter; the comment marks them for teardown.
func guardRules() map[string][][]string {
	comment := []string{"-m", "comment", "--comment", Marker + " guard"}
	v4 := [][]string{
		// Anything in from the bridge that would leave through another interface.
		{"-i", Bridge, "!", "-o", Bridge},
		// Anything forwarded into the pods from elsewhere.
		{"!", "-i", Bridge, "-o", Bridge},
	}
	for _, ifc := range defaultInterfaces() {
		// Anything from the pod CIDR out of a default-route interface.
		v4 = append(v4, []string{"-s", PodCIDR, "-o", ifc})
	}
	v6 := [][]string{{"-i", Bridge, "!", "-o", Bridge}, {"!", "-i", Bridge, "-o", Bridge}}
	add := func(rules [][]string) [][]string {
		var out [][]string
		for _, r := range rules {
			out = append(out, append(append(append([]string{}, r...), comment...), "-j", "DROP"))
		}
		return out
	}
	return map[string][][]string{"iptables": add(v4), "ip6tables": add(v6)}
}

// setupNetwork makes the bridge, routes the service CIDR to it and installs the guards.
func setupNetwork() error {
	steps := [][]string{
		{"ip", "link", "add", Bridge, "type", "bridge"},
		{"ip", "addr", "add", NodeIP + "/24", "dev", Bridge},
		{"ip", "link", "set", Bridge, "up"},
		// A service IP before (or without) kube-proxy's DNAT goes to the bridge, never to the
		// machine's default gateway.
		{"ip", "route", "add", ServiceCIDR, "dev", Bridge},
	}
	for _, s := range steps {
		if _, err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	for bin, rules := range guardRules() {
		for _, table := range []string{"mangle", "filter"} {
			for _, r := range rules {
				if _, err := run(bin, append([]string{"-w", "5", "-t", table, "-I", "FORWARD", "1"}, r...)...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// iptablesSave returns `iptables-save -t table` (or ip6tables-save) output.
func iptablesSave(bin, table string) string {
	out, _ := exec.Command(bin+"-save", "-t", table).Output()
	return string(out)
}

// isOurs says whether a saved iptables line belongs to the node.
func isOurs(line string) bool {
	for _, s := range []string{Marker, Bridge, "10.213.0.", "10.214.0.", "KUBE-"} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// cleanIptables deletes every rule of the node (guards, kube-proxy's and the kubelet's: rules
// naming the bridge, the CIDRs, the marker or a KUBE-* chain) and every KUBE-* chain, in the
// filter, nat, mangle and raw tables of IPv4 and IPv6.
func cleanIptables() error {
	var errs []string
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle", "raw"} {
			saved := iptablesSave(bin, table)
			var dels, chains []string
			for _, line := range strings.Split(saved, "\n") {
				switch {
				case strings.HasPrefix(line, ":KUBE-"):
					chains = append(chains, strings.Fields(line)[0][1:])
				case strings.HasPrefix(line, "-A ") && isOurs(line):
					dels = append(dels, "-D "+line[3:])
				}
			}
			if len(dels)+len(chains) == 0 {
				continue
			}
			var script strings.Builder
			fmt.Fprintf(&script, "*%s\n", table)
			for _, d := range dels {
				if !strings.HasPrefix(d, "-D KUBE-") { // KUBE-* chains are flushed below
					script.WriteString(d + "\n")
				}
			}
			for _, c := range chains {
				fmt.Fprintf(&script, "-F %s\n", c)
			}
			for _, c := range chains {
				fmt.Fprintf(&script, "-X %s\n", c)
			}
			script.WriteString("COMMIT\n")
			cmd := exec.Command(bin+"-restore", "-w", "5", "--noflush")
			cmd.Stdin = strings.NewReader(script.String())
			if out, err := cmd.CombinedOutput(); err != nil {
				errs = append(errs, fmt.Sprintf("%s-restore (%s): %v: %s\n%s", bin, table, err, strings.TrimSpace(string(out)), script.String()))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
