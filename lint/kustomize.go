package lint

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/rules"
)

// kustomization is one kustomization file as gjallar reads it before
// building: what it includes, so that roots can be told from bases, the
// files it consumes are not linted raw as well, nothing remote is ever
// fetched, and findings in the build can be placed back in its files.
type kustomization struct {
	dir  string // the directory, as found from the arguments
	file string // its kustomization file
	node *yaml.Node
	// component is a kind: Component, which cannot be built alone.
	component bool
	// broken is set when the file cannot be read (already reported).
	broken bool
	// includes are the kustomization directories it builds on (resources,
	// bases and components that are directories).
	includes []string
	// consumed are the files it reads.
	consumed []string
	// remote are entries that kustomize would fetch from the network.
	remote []kustomizeEntry
	// patches are the strategic-merge patch files and the targets they
	// name; generators, the configMapGenerator and secretGenerator entries.
	patches    []kustomizePatch
	generators []kustomizeGenerator
}

// kustomizeEntry is a path-valued entry of a kustomization and where it is.
type kustomizeEntry struct {
	value     string
	line, col int
}

type kustomizePatch struct {
	file string
	// kind and name from the patch's target selector, when it has one.
	kind, name string
}

type kustomizeGenerator struct {
	name string
	line int // of the entry's name
	// files maps each data key to the file holding it; literals maps each
	// literal's key to where it is in the kustomization file.
	files    map[string]string
	literals map[string][2]int
}

// kustomizationFields is the part of a kustomization that names files.
type kustomizationFields struct {
	Kind                  string   `json:"kind"`
	Resources             []string `json:"resources"`
	Bases                 []string `json:"bases"`
	Components            []string `json:"components"`
	Crds                  []string `json:"crds"`
	Configurations        []string `json:"configurations"`
	Generators            []string `json:"generators"`
	Transformers          []string `json:"transformers"`
	Validators            []string `json:"validators"`
	PatchesStrategicMerge []string `json:"patchesStrategicMerge"`
	Patches               []struct {
		Path   string `json:"path"`
		Target *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"target"`
	} `json:"patches"`
	PatchesJSON6902 []struct {
		Path string `json:"path"`
	} `json:"patchesJson6902"`
	Replacements []struct {
		Path string `json:"path"`
	} `json:"replacements"`
	OpenAPI            map[string]string      `json:"openapi"`
	ConfigMapGenerator []kustomizeGeneratorIn `json:"configMapGenerator"`
	SecretGenerator    []kustomizeGeneratorIn `json:"secretGenerator"`
}

type kustomizeGeneratorIn struct {
	Name     string   `json:"name"`
	Files    []string `json:"files"`
	Literals []string `json:"literals"`
	Envs     []string `json:"envs"`
	Env      string   `json:"env"`
}

// findKustomizationFile returns the kustomization file in dir, or "".
func findKustomizationFile(dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p
		}
	}
	return ""
}

func isKustomizationFile(path string) bool {
	return slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(path))
}

// kustomizeTree is every kustomization found under the arguments and
// every one they include, wherever it lives.
type kustomizeTree struct {
	byDir map[string]*kustomization // by absolute directory
	// found lists, in walk order, the directories found under the
	// arguments: the candidates for roots.
	found []string
	// problems are kustomization files that cannot be read.
	problems []Located
}

func scanKustomizations(dirs []string) *kustomizeTree {
	t := &kustomizeTree{byDir: map[string]*kustomization{}}
	for _, d := range dirs {
		if t.scan(d) != nil {
			t.found = append(t.found, d)
		}
	}
	return t
}

// scan reads the kustomization in dir and, through its includes, every one
// it builds on.
func (t *kustomizeTree) scan(dir string) *kustomization {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	if k, ok := t.byDir[abs]; ok {
		return k
	}
	file := findKustomizationFile(dir)
	if file == "" {
		return nil
	}
	k := &kustomization{dir: dir, file: file}
	t.byDir[abs] = k // before the includes: a cycle stops here
	if err := k.read(); err != nil {
		k.broken = true
		t.problems = append(t.problems, Located{
			Finding: rules.Finding{Rule: rules.ParseError.ID, Severity: rules.Error, Message: err.Error()},
			File:    filepath.ToSlash(file), Line: 1, Column: 1,
		})
		return k
	}
	for _, inc := range k.includes {
		t.scan(inc)
	}
	return k
}

// looksRemote says whether kustomize would treat a path-valued entry as a
// URL or a git repository to fetch: a scheme, an scp-like git@host:path,
// or a bare github.com path.
func looksRemote(entry string) bool {
	e := strings.ToLower(strings.TrimSpace(entry))
	e = strings.TrimPrefix(e, "git::")
	if strings.Contains(e, "://") || strings.HasPrefix(e, "github.com/") || strings.HasPrefix(e, "github.com:") {
		return true
	}
	if at := strings.Index(e, "@"); at > 0 {
		if colon := strings.Index(e[at:], ":"); colon > 0 && !strings.Contains(e[:at], "/") {
			return true // user@host:path
		}
	}
	return false
}

func (k *kustomization) read() error {
	text, err := readFile(k.file)
	if err != nil {
		return fmt.Errorf("cannot read kustomization: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return fmt.Errorf("cannot parse kustomization: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) > 0 {
		k.node = doc.Content[0]
	}
	var f kustomizationFields
	if err := sigsyaml.Unmarshal(text, &f); err != nil {
		return fmt.Errorf("cannot read kustomization: %w", err)
	}
	k.component = f.Kind == "Component"
	// entry resolves one path-valued entry: remote ones are remembered
	// with their line, local ones joined to the kustomization's directory.
	entry := func(value string, path ...any) (string, bool) {
		if strings.TrimSpace(value) == "" || strings.Contains(value, "\n") {
			return "", false // empty, or an inline document
		}
		if looksRemote(value) {
			line, col := k.position(path...)
			k.remote = append(k.remote, kustomizeEntry{value, line, col})
			return "", false
		}
		return filepath.Join(k.dir, value), true
	}
	for field, list := range map[string][]string{"resources": f.Resources, "bases": f.Bases, "components": f.Components} {
		for i, r := range list {
			p, ok := entry(r, field, i)
			if !ok {
				continue
			}
			if info, err := os.Stat(p); err == nil && info.IsDir() {
				k.includes = append(k.includes, p)
			} else {
				k.consumed = append(k.consumed, p)
			}
		}
	}
	for field, list := range map[string][]string{"crds": f.Crds, "configurations": f.Configurations,
		"generators": f.Generators, "transformers": f.Transformers, "validators": f.Validators} {
		for i, r := range list {
			if p, ok := entry(r, field, i); ok {
				k.consumed = append(k.consumed, p)
			}
		}
	}
	for i, r := range f.PatchesStrategicMerge {
		if p, ok := entry(r, "patchesStrategicMerge", i); ok {
			k.consumed = append(k.consumed, p)
			k.patches = append(k.patches, kustomizePatch{file: p})
		}
	}
	for i, r := range f.Patches {
		if p, ok := entry(r.Path, "patches", i, "path"); ok {
			k.consumed = append(k.consumed, p)
			kp := kustomizePatch{file: p}
			if r.Target != nil {
				kp.kind, kp.name = r.Target.Kind, r.Target.Name
			}
			k.patches = append(k.patches, kp)
		}
	}
	for i, r := range f.PatchesJSON6902 {
		if p, ok := entry(r.Path, "patchesJson6902", i, "path"); ok {
			k.consumed = append(k.consumed, p)
		}
	}
	for i, r := range f.Replacements {
		if p, ok := entry(r.Path, "replacements", i, "path"); ok {
			k.consumed = append(k.consumed, p)
		}
	}
	if p, ok := entry(f.OpenAPI["path"], "openapi", "path"); ok {
		k.consumed = append(k.consumed, p)
	}
	for field, gens := range map[string][]kustomizeGeneratorIn{"configMapGenerator": f.ConfigMapGenerator, "secretGenerator": f.SecretGenerator} {
		for i, g := range gens {
			line, _ := k.position(field, i, "name")
			gen := kustomizeGenerator{name: g.Name, line: line, files: map[string]string{}, literals: map[string][2]int{}}
			for j, file := range g.Files {
				key, path, found := strings.Cut(file, "=")
				if !found {
					path, key = key, filepath.Base(key)
				}
				if p, ok := entry(path, field, i, "files", j); ok {
					k.consumed = append(k.consumed, p)
					gen.files[key] = p
				}
			}
			for j, lit := range g.Literals {
				key, _, _ := strings.Cut(lit, "=")
				l, c := k.position(field, i, "literals", j)
				gen.literals[key] = [2]int{l, c}
			}
			envs := g.Envs
			if g.Env != "" {
				envs = append(envs, g.Env)
			}
			for _, env := range envs {
				if p, ok := entry(env, field, i, "envs"); ok {
					k.consumed = append(k.consumed, p)
				}
			}
			k.generators = append(k.generators, gen)
		}
	}
	return nil
}

// position is where a field of the kustomization is (its key, or for a
// list item the item itself), or the deepest part of it that is there.
func (k *kustomization) position(path ...any) (int, int) {
	if k.node == nil {
		return 1, 1
	}
	var p rules.Path
	for _, e := range path {
		switch v := e.(type) {
		case string:
			p = append(p, v)
		case int:
			p = append(p, fmt.Sprint(v))
		}
	}
	node, key, depth := walk(k.node, p)
	if key != nil && (depth < len(p) || !rules.IsIndex(p[len(p)-1])) {
		return key.Line, key.Column
	}
	return node.Line, node.Column
}

// roots are the kustomizations found under the arguments that no other
// kustomization includes and that can be built alone.
func (t *kustomizeTree) roots() []*kustomization {
	included := map[string]bool{}
	for _, k := range t.byDir {
		for _, inc := range k.includes {
			if abs, err := filepath.Abs(inc); err == nil {
				included[abs] = true
			}
		}
	}
	var out []*kustomization
	for _, d := range t.found {
		abs, _ := filepath.Abs(d)
		if k := t.byDir[abs]; k != nil && !included[abs] && !k.component && !k.broken {
			out = append(out, k)
		}
	}
	return out
}

// closure is k and everything it builds on, bases before the
// kustomizations that include them, as kustomize applies them.
func (t *kustomizeTree) closure(k *kustomization) []*kustomization {
	var out []*kustomization
	seen := map[*kustomization]bool{}
	var visit func(*kustomization)
	visit = func(k *kustomization) {
		if k == nil || seen[k] {
			return
		}
		seen[k] = true
		for _, inc := range k.includes {
			abs, _ := filepath.Abs(inc)
			visit(t.byDir[abs])
		}
		out = append(out, k)
	}
	visit(k)
	return out
}

// consumed is every file any kustomization reads, and the kustomization
// files themselves, by absolute path.
func (t *kustomizeTree) consumed() map[string]bool {
	out := map[string]bool{}
	for _, k := range t.byDir {
		for _, p := range append([]string{k.file}, k.consumed...) {
			if abs, err := filepath.Abs(p); err == nil {
				out[abs] = true
			}
		}
	}
	return out
}

// originAnnotations is the build option that makes kustomize record on
// every object the file (or generator) it came from.
const originAnnotations = string(types.OriginAnnotations)

// originFS is the disk as kustomize reads it, except that the root's
// kustomization asks for origin annotations: that is how gjallar learns
// which file each built object came from. Nothing is written.
type originFS struct {
	filesys.FileSystem
	rootFile string // absolute
}

func (fs originFS) ReadFile(path string) ([]byte, error) {
	data, err := fs.FileSystem.ReadFile(path)
	if err != nil || path != fs.rootFile {
		return data, err
	}
	var m map[string]any
	if err := sigsyaml.Unmarshal(data, &m); err != nil || m == nil {
		return data, nil // kustomize reports it
	}
	meta, _ := m["buildMetadata"].([]any)
	if slices.Contains(meta, any(originAnnotations)) {
		return data, nil
	}
	m["buildMetadata"] = append(meta, originAnnotations)
	return sigsyaml.Marshal(m)
}

// kustomizeMu serialises builds: kustomize keeps its OpenAPI schema in a
// package variable that each build sets.
var kustomizeMu sync.Mutex

// buildKustomization builds root with everything local and returns its
// objects as a rendering, or the problems that stopped it.
func (in *Input) buildKustomization(t *kustomizeTree, root *kustomization) {
	what := "kustomization " + filepath.ToSlash(root.dir)
	chain := t.closure(root)
	remote := false
	for _, k := range chain {
		for _, r := range k.remote {
			remote = true
			in.Problems = append(in.Problems, Located{
				Finding: rules.Finding{Rule: rules.ParseError.ID, Severity: rules.Error, Message: fmt.Sprintf(
					"%s cannot be built: %q is remote, and gjallar builds kustomizations from local files only (it fetches nothing); vendor that base into the repository, or lint the output of kustomize build with gjallar lint -",
					what, r.value)},
				File: filepath.ToSlash(k.file), Line: r.line, Column: r.col,
			})
		}
	}
	if remote {
		return
	}
	absDir, err := filepath.Abs(root.dir)
	if err != nil {
		in.problem(&Source{Name: filepath.ToSlash(root.file)}, 1, 1, "%s cannot be built: %v", what, err)
		return
	}
	rootFile, _ := filepath.Abs(root.file)
	m, err := runKustomize(originFS{filesys.MakeFsOnDisk(), rootFile}, absDir)
	if err != nil {
		in.problem(&Source{Name: filepath.ToSlash(root.file)}, 1, 1, "%s cannot be built: %v", what, err)
		return
	}
	// Read where each object came from, then drop the annotations that
	// said so: the user's build has none of them.
	origins := make([]*resource.Origin, m.Size())
	for i, res := range m.Resources() {
		origins[i], _ = res.GetOrigin()
	}
	if err := m.RemoveOriginAnnotations(); err != nil {
		in.problem(&Source{Name: filepath.ToSlash(root.file)}, 1, 1, "%s cannot be built: %v", what, err)
		return
	}
	yamls := make([][]byte, 0, m.Size())
	size := 0
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			in.problem(&Source{Name: filepath.ToSlash(root.file)}, 1, 1, "%s cannot be built: %s %s: %v", what, res.GetKind(), res.GetName(), err)
			return
		}
		yamls = append(yamls, y)
		size += len(y)
	}
	if size > MaxFileSize {
		in.problem(&Source{Name: filepath.ToSlash(root.file)}, 1, 1, "%s builds more than %d MiB; lint its output in parts", what, MaxFileSize>>20)
		return
	}
	r := &rendering{what: what}
	src := &Source{Name: what}
	var text bytes.Buffer
	for i, res := range m.Resources() {
		start := bytes.Count(text.Bytes(), []byte("\n")) + 1
		text.WriteString("---\n")
		text.Write(yamls[i])
		before := len(in.Documents)
		src.Text = text.Bytes()
		in.addChunk(src, yamls[i], start+1)
		for _, d := range in.Documents[before:] {
			d.rendering = r
			d.placer = &kustomizePlacer{tree: t, root: root, chain: chain, absRoot: absDir, origin: origins[i], kind: res.GetKind(), name: res.GetName()}
			r.docs = append(r.docs, d)
		}
	}
	src.Text = text.Bytes()
	in.renderings = append(in.renderings, r)
}

// runKustomize builds one root; a panic inside kustomize becomes an error
// on that kustomization rather than the end of the lint.
func runKustomize(fs filesys.FileSystem, dir string) (m resmap.ResMap, err error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize failed on this kustomization: %v", r)
		}
	}()
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
}

// kustomizePlacer places a finding in a built object in the file it came
// from: for a resource, the last of its file and the patches that apply to
// it that sets the field to the built value; for a generated ConfigMap or
// Secret, the generator's source file whose content the data key holds.
type kustomizePlacer struct {
	tree    *kustomizeTree
	root    *kustomization
	chain   []*kustomization
	absRoot string
	origin  *resource.Origin
	kind    string
	name    string
}

func (p *kustomizePlacer) note() string {
	return "kustomization " + filepath.ToSlash(p.root.dir)
}

func (p *kustomizePlacer) place(files *sourceFiles, d *Document, f rules.Finding) placement {
	if p.origin != nil && p.origin.ConfiguredBy.Kind != "" {
		if at, ok := p.placeGenerated(f); ok {
			return at
		}
	}
	var candidates []*Document
	if p.origin != nil && p.origin.Path != "" {
		file := filepath.Join(p.root.dir, filepath.FromSlash(p.origin.Path))
		if doc := files.document(file, p.kind, p.name); doc != nil {
			candidates = append(candidates, doc)
		}
	}
	for _, k := range p.chain {
		for _, patch := range k.patches {
			if patch.kind != "" && patch.kind != p.kind {
				continue
			}
			if patch.name != "" && !targetNameMatches(patch.name, p.name) {
				continue
			}
			if doc := files.document(patch.file, p.kind, p.name); doc != nil {
				candidates = append(candidates, doc)
			} else if patch.kind != "" {
				if doc := files.document(patch.file, "", ""); doc != nil {
					candidates = append(candidates, doc)
				}
			}
		}
	}
	built := d.Object.Content
	var best *Document
	bestDepth := -1
	for i := len(candidates) - 1; i >= 0; i-- {
		c := candidates[i]
		root := c.Node()
		if root == nil {
			continue
		}
		node, _, depth := walk(root, f.Path)
		if depth == len(f.Path) && sameValue(node, built, f.Path) {
			best = c
			break
		}
		if depth > bestDepth {
			best, bestDepth = c, depth
		}
	}
	if best == nil {
		return placement{file: filepath.ToSlash(p.root.file), line: 1, col: 1}
	}
	line, col := best.locate(f)
	return placement{file: best.Source.Name, line: line, col: col}
}

// placeGenerated finds the generator file whose content a generated
// object's data key holds (with behavior: merge, whichever kustomization
// supplied that key), or the generator entry itself. Generators named like
// the object are tried first, so identical files of different generators
// are told apart.
func (p *kustomizePlacer) placeGenerated(f rules.Finding) (placement, bool) {
	type gen struct {
		k *kustomization
		g kustomizeGenerator
	}
	var named, others []gen
	longest := 0
	for i := len(p.chain) - 1; i >= 0; i-- {
		for _, g := range p.chain[i].generators {
			if g.name != "" && strings.Contains(p.name, g.name) {
				longest = max(longest, len(g.name))
			}
		}
	}
	for i := len(p.chain) - 1; i >= 0; i-- {
		for _, g := range p.chain[i].generators {
			if longest > 0 && len(g.name) == longest && strings.Contains(p.name, g.name) {
				named = append(named, gen{p.chain[i], g})
			} else {
				others = append(others, gen{p.chain[i], g})
			}
		}
	}
	if f.Doc != nil {
		for _, c := range append(named, others...) {
			for _, file := range slices.Sorted(maps.Keys(c.g.files)) {
				data, err := os.ReadFile(c.g.files[file])
				if err != nil || string(bytes.TrimPrefix(data, utf8BOM)) != f.Doc.Text {
					continue
				}
				line, col := rules.LineCol(f.Doc.Text, configOffset(f))
				return placement{file: filepath.ToSlash(c.g.files[file]), line: line, col: col, wholeFile: true}, true
			}
		}
	}
	key := ""
	if len(f.Path) >= 2 && (f.Path[0] == "data" || f.Path[0] == "stringData") {
		key = f.Path[1]
	}
	for _, c := range named {
		if at, ok := c.g.literals[key]; ok && key != "" {
			return placement{file: filepath.ToSlash(c.k.file), line: at[0], col: at[1]}, true
		}
		if file, ok := c.g.files[key]; ok && key != "" {
			return placement{file: filepath.ToSlash(file), line: 1, col: 1}, true
		}
	}
	if len(named) > 0 {
		return placement{file: filepath.ToSlash(named[0].k.file), line: named[0].g.line, col: 1}, true
	}
	return placement{}, false
}

// targetNameMatches applies a patch target's name, which kustomize reads
// as an anchored regular expression, to an object's name before or after
// prefixes and suffixes.
func targetNameMatches(pattern, name string) bool {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return pattern == name
	}
	return re.MatchString(name) || strings.Contains(name, pattern)
}

// sameValue compares a source node with the built object's value at path.
func sameValue(node *yaml.Node, built map[string]any, path rules.Path) bool {
	want, ok := rules.Lookup(built, path)
	if !ok {
		return false
	}
	got, err := newConverter(node).value(node, 0)
	if err != nil {
		return false
	}
	a, err1 := sigsyaml.Marshal(got)
	b, err2 := sigsyaml.Marshal(want)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// sourceFiles holds the files that findings in rendered objects are placed
// in, parsed as lint parses its input, once per lint: --fix may change them
// between lints.
type sourceFiles struct {
	byPath map[string]*Input // by absolute path
}

// document returns the document in file of that kind whose name the built
// name contains (the longest such, since prefixes and suffixes are added);
// with no kind, the file's first document.
func (c *sourceFiles) document(file, kind, builtName string) *Document {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil
	}
	if c.byPath == nil {
		c.byPath = map[string]*Input{}
	}
	part, ok := c.byPath[abs]
	if !ok {
		part = &Input{}
		data, err := readFile(file)
		part.add(&Source{Name: filepath.ToSlash(filepath.Clean(file)), Path: file}, data, err)
		c.byPath[abs] = part
	}
	var best *Document
	for _, d := range part.Documents {
		if kind == "" {
			return d
		}
		if d.Object.Ref().Kind != kind || !strings.Contains(builtName, d.Object.Name()) {
			continue
		}
		if best == nil || len(d.Object.Name()) > len(best.Object.Name()) {
			best = d
		}
	}
	return best
}
