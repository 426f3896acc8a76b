package wsinit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// CondaResult says what SyncConda did, for the log line and tests.
type CondaResult struct {
	Condarc         string // "created", "merged", "unchanged"
	EnvironmentsTxt string // "created", "updated", "unchanged"
	Envs            []string
}

// CondaEnvsDirs is the envs_dirs list the workspace needs: the dirs shared with Jupyter
// first (conda creates new envs in the first writable one, so envs made in VS Code show up
// in Jupyter), then the image's own <base>/envs.
func CondaEnvsDirs(shared []string, condaBase string) []string {
	return appendMissing(append([]string(nil), shared...), filepath.Join(condaBase, "envs"))
}

// SyncConda merges envs_dirs into <home>/.condarc and syncs <home>/.conda/environments.txt
// with the envs found (any dir with conda-meta/, which is how conda and VS Code's Python
// extension recognise an env).
func SyncConda(home string, envsDirs []string, condaBase string) (CondaResult, error) {
	var res CondaResult
	r, err := mergeCondarc(filepath.Join(home, ".condarc"), envsDirs)
	if err != nil {
		return res, err
	}
	res.Condarc = r
	res.Envs = findCondaEnvs(envsDirs, condaBase)
	r, err = syncEnvironmentsTxt(filepath.Join(home, ".conda", "environments.txt"), res.Envs)
	res.EnvironmentsTxt = r
	return res, err
}

// mergeCondarc keeps every key, comment and list entry the user wrote; it only appends the
// missing envs_dirs entries, and rewrites nothing when none is missing.
func mergeCondarc(path string, envsDirs []string) (string, error) {
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", fmt.Errorf("conda config dir %s: %w", filepath.Dir(path), unwrapPathErr(err))
		}
		var b bytes.Buffer
		b.WriteString("# Written by codehub-init: conda envs shared with Jupyter. Edit freely; entries are only ever added.\nenvs_dirs:\n")
		for _, d := range envsDirs {
			fmt.Fprintf(&b, "  - %s\n", yamlQuote(d))
		}
		if err := writeFileAtomic(path, b.Bytes(), 0o644); err != nil {
			return "", fmt.Errorf("conda config %s: %w", path, err)
		}
		return "created", nil
	}
	if err != nil {
		return "", fmt.Errorf("conda config %s: %w", path, unwrapPathErr(err))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(old, &doc); err != nil {
		return "", fmt.Errorf("conda config %s: malformed YAML, kept as is (%v)", path, err)
	}
	var prefix []byte
	if doc.Kind == 0 {
		// Empty or only comments: yaml.v3 drops those comments, so keep the text as a prefix.
		prefix = old
		if len(prefix) > 0 && !bytes.HasSuffix(prefix, []byte("\n")) {
			prefix = append(prefix, '\n')
		}
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return "", fmt.Errorf("conda config %s: top level is not a mapping, kept as is", path)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "envs_dirs" {
			list = root.Content[i+1]
		}
	}
	if list == nil {
		list = &yaml.Node{Kind: yaml.SequenceNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "envs_dirs"}, list)
	}
	if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		list.Kind, list.Tag, list.Value = yaml.SequenceNode, "", ""
	}
	if list.Kind != yaml.SequenceNode {
		return "", fmt.Errorf("conda config %s: envs_dirs is not a list, kept as is", path)
	}
	have := map[string]bool{}
	for _, n := range list.Content {
		have[filepath.Clean(n.Value)] = true
	}
	changed := false
	for _, d := range envsDirs {
		if !have[filepath.Clean(d)] {
			list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: d})
			have[filepath.Clean(d)] = true
			changed = true
		}
	}
	if !changed {
		return "unchanged", nil
	}
	list.Style = 0 // a flow list "[a, b]" the user wrote becomes block style; still valid
	var b bytes.Buffer
	b.Write(prefix)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", fmt.Errorf("conda config %s: %w", path, err)
	}
	if err := writeFileAtomic(path, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("conda config %s: %w", path, err)
	}
	return "merged", nil
}

// findCondaEnvs lists the base env and every env under the envs dirs, sorted per dir.
func findCondaEnvs(envsDirs []string, condaBase string) []string {
	var envs []string
	if isCondaEnv(condaBase) {
		envs = append(envs, filepath.Clean(condaBase))
	}
	for _, d := range envsDirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue // a shared dir that does not exist yet has no envs
		}
		var found []string
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			if isCondaEnv(p) {
				found = append(found, p)
			}
		}
		sort.Strings(found)
		for _, p := range found {
			envs = appendMissing(envs, p)
		}
	}
	return envs
}

func isCondaEnv(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "conda-meta"))
	return err == nil && st.IsDir()
}

// syncEnvironmentsTxt keeps the user's entries that are still envs, drops ones whose
// conda-meta/ is gone (conda itself prunes them the same way) and appends the envs found.
func syncEnvironmentsTxt(path string, envs []string) (string, error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("conda environments file %s: %w", path, unwrapPathErr(err))
	}
	existed := err == nil
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && isCondaEnv(l) {
			lines = appendMissing(lines, l)
		}
	}
	for _, e := range envs {
		lines = appendMissing(lines, e)
	}
	want := strings.Join(lines, "\n")
	if want != "" {
		want += "\n"
	}
	if (existed && want == string(old)) || (!existed && want == "") {
		return "unchanged", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("conda dir %s: %w", filepath.Dir(path), unwrapPathErr(err))
	}
	if err := writeFileAtomic(path, []byte(want), 0o644); err != nil {
		return "", fmt.Errorf("conda environments file %s: %w", path, err)
	}
	if existed {
		return "updated", nil
	}
	return "created", nil
}

func appendMissing(list []string, v string) []string {
	for _, x := range list {
		if filepath.Clean(x) == filepath.Clean(v) {
			return list
		}
	}
	return append(list, v)
}
