package lint

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gjallar-dev/gjallar/rules"
)

// ChartSettings is how to render one chart, from .gjallar.yaml's charts
// list: a chart may be listed more than once (one entry per environment),
// and each entry is rendered and checked on its own.
type ChartSettings struct {
	// Path is the chart directory, relative to the config file.
	Path string `yaml:"path"`
	// Release and Namespace are the release's name and namespace
	// (helm template's "release-name" and "default" when empty).
	Release   string `yaml:"release"`
	Namespace string `yaml:"namespace"`
	// Values are values files, relative to the config file, applied in
	// order after the chart's own values.yaml; Set and SetString are
	// --set and --set-string expressions applied after them.
	Values    []string `yaml:"values"`
	Set       []string `yaml:"set"`
	SetString []string `yaml:"setString"`
}

// ChartSettingsFrom reads the charts section of a config file; paths in it
// are taken relative to the file's directory. A malformed section is a
// usage error naming its line.
func ChartSettingsFrom(cfg *rules.Config) ([]ChartSettings, error) {
	if cfg == nil || cfg.Charts.Kind == 0 {
		return nil, nil
	}
	n := &cfg.Charts
	if n.Kind != yaml.SequenceNode {
		return nil, &UsageError{fmt.Errorf("%s:%d: charts must be a list of {path, release, namespace, values, set, setString}", cfg.Name, n.Line)}
	}
	known := []string{"path", "release", "namespace", "values", "set", "setString"}
	base := filepath.Dir(cfg.Name)
	var out []ChartSettings
	for _, item := range n.Content {
		if item.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(item.Content); i += 2 {
				if k := item.Content[i]; !slices.Contains(known, k.Value) {
					return nil, &UsageError{fmt.Errorf("%s:%d: charts: unknown field %q (want %s)", cfg.Name, k.Line, k.Value, strings.Join(known, ", "))}
				}
			}
		}
		var s ChartSettings
		if err := item.Decode(&s); err != nil {
			return nil, &UsageError{fmt.Errorf("%s:%d: charts: %w", cfg.Name, item.Line, err)}
		}
		if s.Path == "" {
			return nil, &UsageError{fmt.Errorf("%s:%d: charts: an entry needs the chart's path", cfg.Name, item.Line)}
		}
		s.Path = filepath.Join(base, s.Path)
		for i, v := range s.Values {
			s.Values[i] = filepath.Join(base, v)
		}
		out = append(out, s)
	}
	return out, nil
}

// renderCharts renders every chart found, once per .gjallar.yaml entry
// naming it (or once with defaults).
func (in *Input) renderCharts(dirs []string) {
	for _, dir := range dirs {
		abs, _ := filepath.Abs(dir)
		var settings []ChartSettings
		for _, s := range in.render.Charts {
			if a, _ := filepath.Abs(s.Path); a == abs {
				settings = append(settings, s)
			}
		}
		if len(settings) == 0 {
			settings = []ChartSettings{{Path: dir}}
		}
		for _, s := range settings {
			s.Path = dir
			if in.render.ReleaseName != "" {
				s.Release = in.render.ReleaseName
			}
			if in.render.Namespace != "" {
				s.Namespace = in.render.Namespace
			}
			s.Values = append(s.Values[:len(s.Values):len(s.Values)], in.render.ValueFiles...)
			s.Set = append(s.Set[:len(s.Set):len(s.Set)], in.render.Set...)
			s.SetString = append(s.SetString[:len(s.SetString):len(s.SetString)], in.render.SetString...)
			in.renderChart(s)
		}
	}
}

// renderChart renders one chart as `helm template` does (client only,
// hooks included, CRDs left out) and adds its objects as a rendering.
// Everything is local: dependencies must be vendored under charts/, and a
// values file given as a URL is an error, not a download.
func (in *Input) renderChart(s ChartSettings) {
	dir := s.Path
	what := "chart " + filepath.ToSlash(dir)
	if s.Release != "" {
		what += " release " + s.Release
	}
	chartFile := &Source{Name: filepath.ToSlash(filepath.Join(dir, "Chart.yaml"))}
	chrt, err := loader.Load(dir)
	if err != nil {
		in.problem(chartFile, 1, 1, "%s cannot be loaded: %v", what, err)
		return
	}
	if chrt.Metadata.Type == "library" {
		return // helpers only: linted through the charts that use it
	}
	if missing := in.missingDependencies(chrt, chartFile, what); missing {
		return
	}
	vals, err := chartValues(s)
	if err != nil {
		in.problem(chartFile, 1, 1, "%s cannot be rendered: %v", what, err)
		return
	}
	manifests, hooks, err := renderTemplates(chrt, vals, s)
	if err != nil {
		file, line, col := templateErrorPosition(dir, err)
		if file == "" {
			file, line, col = chartFile.Name, 1, 1
		}
		in.problem(&Source{Name: file}, line, col, "%s cannot be rendered: %v", what, err)
		return
	}
	// The text helm template prints: each manifest under its "# Source:"
	// comment, then the hooks.
	var text strings.Builder
	for _, m := range manifests {
		fmt.Fprintf(&text, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	for _, h := range hooks {
		fmt.Fprintf(&text, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	if text.Len() > MaxFileSize {
		in.problem(chartFile, 1, 1, "%s renders more than %d MiB; lint its output in parts", what, MaxFileSize>>20)
		return
	}
	src := &Source{Name: what, Text: []byte(text.String())}
	r := &rendering{what: what}
	c := &chartSource{dir: dir, chart: chrt, settings: s, templates: map[string]*templateMap{}}
	perTemplate := map[string]int{}
	for _, ch := range splitDocuments(src.Text) {
		template := sourceComment(ch.text)
		before := len(in.Documents)
		in.addChunk(src, ch.text, ch.line)
		for _, d := range in.Documents[before:] {
			inReleaseNamespace(d, cmpOr(s.Namespace, "default"))
			kind := d.Object.Ref().Kind
			key := template + "\x00" + kind
			d.rendering, d.placer = r, &chartPlacer{chart: c, template: template, kind: kind, ordinal: perTemplate[key]}
			perTemplate[key]++
			r.docs = append(r.docs, d)
		}
	}
	in.renderings = append(in.renderings, r)
}

// chartValues merges the values files in order, then --set and
// --set-string, as helm template does; a values file is read from disk
// only (Helm would download one given as a URL).
func chartValues(s ChartSettings) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range s.Values {
		data, err := readFile(f)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		cur := map[string]any{}
		if err := sigsyaml.Unmarshal(data, &cur); err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		base = mergeValues(base, cur)
	}
	for _, v := range s.Set {
		if err := strvals.ParseInto(v, base); err != nil {
			return nil, fmt.Errorf("--set %s: %w", v, err)
		}
	}
	for _, v := range s.SetString {
		if err := strvals.ParseIntoString(v, base); err != nil {
			return nil, fmt.Errorf("--set-string %s: %w", v, err)
		}
	}
	return base, nil
}

// mergeValues lays b over a: maps merge key by key, anything else in b
// replaces what a has.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	maps.Copy(out, a)
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// renderTemplates runs Helm's template engine as a client-only install
// does: dependencies enabled by their conditions, values checked against
// values.schema.json, the default capabilities of helm template, NOTES.txt
// left out, manifests split from hooks in install order.
func renderTemplates(chrt *chart.Chart, vals map[string]any, s ChartSettings) (_ []releaseutil.Manifest, _ []*release.Hook, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("helm failed on this chart: %v", r)
		}
	}()
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	opts := chartutil.ReleaseOptions{Name: cmpOr(s.Release, "release-name"), Namespace: cmpOr(s.Namespace, "default"), Revision: 1, IsInstall: true}
	toRender, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, opts, caps, false)
	if err != nil {
		return nil, nil, err
	}
	files, err := new(engine.Engine).Render(chrt, toRender)
	if err != nil {
		return nil, nil, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	return manifests, hooks, err
}

// clusterScoped are the kinds of the API server, Gateway API and
// cert-manager that have no namespace; any other kind a chart renders is
// taken to be namespaced.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ComponentStatus": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "StorageClass": true, "CSIDriver": true,
	"CSINode": true, "VolumeAttachment": true, "CustomResourceDefinition": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"PriorityClass": true, "IngressClass": true, "RuntimeClass": true, "APIService": true,
	"CertificateSigningRequest": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
	"GatewayClass": true, "ClusterIssuer": true,
}

// inReleaseNamespace puts an object a chart renders without a namespace in
// the release's namespace, where helm install creates it, so that
// references from other objects in that namespace find it.
func inReleaseNamespace(d *Document, namespace string) {
	o := d.Object
	if o.Namespace() != "" || o.File() != nil || clusterScoped[o.Ref().Kind] {
		return
	}
	meta, ok := o.Content["metadata"].(map[string]any)
	if !ok {
		meta = map[string]any{}
		o.Content["metadata"] = meta
	}
	meta["namespace"] = namespace
	d.Object = rules.NewObject(o.Content)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// missingDependencies reports each dependency of Chart.yaml that is not
// vendored under charts/ (as a directory or an archive), at its line: helm
// template refuses such a chart, and gjallar never downloads one.
func (in *Input) missingDependencies(chrt *chart.Chart, chartFile *Source, what string) bool {
	var node *yaml.Node
	if data, err := os.ReadFile(filepath.FromSlash(chartFile.Name)); err == nil {
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
			node = doc.Content[0]
		}
	}
	missing := false
	for i, dep := range chrt.Metadata.Dependencies {
		if slices.ContainsFunc(chrt.Dependencies(), func(c *chart.Chart) bool { return c.Name() == dep.Name }) {
			continue // vendored, as a directory or an archive
		}
		missing = true
		line, col := 1, 1
		if node != nil {
			if n, key, depth := walk(node, rules.P("dependencies", i, "name")); depth == 3 && key != nil {
				line, col = key.Line, key.Column
			} else if n != nil {
				line, col = n.Line, n.Column
			}
		}
		in.problem(chartFile, line, col,
			"%s cannot be rendered: dependency %q (%s from %s) is not vendored under charts/, and gjallar fetches nothing; run helm dependency build and commit charts/",
			what, dep.Name, cmpOr(dep.Version, "any version"), cmpOr(dep.Repository, "no repository"))
	}
	return missing
}

// templateFileLine finds the template and line a Helm render error names:
// "template: NAME/templates/x.yaml:12:20: ...", "parse error at
// (NAME/templates/x.yaml:5): ...", "YAML parse error on NAME/templates/x.yaml: ...".
var templateFileLine = regexp.MustCompile(`([A-Za-z0-9_.-]+(?:/charts/[A-Za-z0-9_.-]+)*/templates/[^\s:()]+)(?::(\d+))?(?::(\d+))?`)

// templateErrorPosition places a render error in the template file it
// names, or returns "" when it names none.
func templateErrorPosition(dir string, err error) (string, int, int) {
	var msg string
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg = e.Error()
	}
	m := templateFileLine.FindStringSubmatch(err.Error())
	if m == nil {
		m = templateFileLine.FindStringSubmatch(msg)
	}
	if m == nil {
		return "", 0, 0
	}
	file := chartFilePath(dir, m[1])
	line, _ := strconv.Atoi(m[2])
	col, _ := strconv.Atoi(m[3])
	return file, max(line, 1), max(col, 1)
}

// chartFilePath turns a template name as Helm gives it ("NAME/templates/x",
// "NAME/charts/SUB/templates/x") into the file on disk, or the archive under
// charts/ a packaged dependency's template lives in.
func chartFilePath(dir, name string) string {
	_, rel, _ := strings.Cut(name, "/")
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if fileExists(p) {
		return filepath.ToSlash(p)
	}
	if strings.HasPrefix(rel, "charts/") {
		sub := strings.SplitN(strings.TrimPrefix(rel, "charts/"), "/", 2)[0]
		if archives, _ := filepath.Glob(filepath.Join(dir, "charts", sub+"-*.tgz")); len(archives) > 0 {
			return filepath.ToSlash(archives[0])
		}
	}
	return filepath.ToSlash(p)
}

var sourceLine = regexp.MustCompile(`(?m)^# Source: (.+?)\s*$`)

// sourceComment is the template a rendered document came from, from the
// "# Source:" comment Helm writes above it.
func sourceComment(text []byte) string {
	if m := sourceLine.FindSubmatch(text); m != nil {
		return string(m[1])
	}
	return ""
}
