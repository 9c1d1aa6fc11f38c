package lint

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// MaxFileSize bounds what one file may hold; larger input is reported, not
// read, so memory stays bounded.
const MaxFileSize = 64 << 20

// StdinName is how findings name standard input.
const StdinName = "<stdin>"

// Source is one input file.
type Source struct {
	// Name is how findings name the file: the path as found from the
	// arguments, with forward slashes.
	Name string
	// Path is where it is on disk; empty for stdin.
	Path string
	// Text is the content without a UTF-8 byte order mark.
	Text []byte
	BOM  bool
	JSON bool

	starts []int
}

// Document is one object found in a file, with what is needed to locate
// findings in it.
type Document struct {
	Source *Source
	// LineBase is added to node lines: files are parsed one document at a
	// time, so node lines count from the document's start.
	LineBase int
	Object   *rules.Object

	// text is the YAML document the object came from, and item its index
	// in the document's items when it is an item of a List (else -1); nil
	// for a standalone Bifrost config, whose positions come from its JSON
	// text. The node tree is not kept after loading: it takes several
	// times the memory of the object itself, and only documents with
	// findings or fixes need it, so Node parses it again.
	text []byte
	item int
	node *yaml.Node

	// rendering is the chart or kustomization the object was rendered
	// from, and placer maps its findings back to files; nil for an object
	// read from a file.
	rendering *rendering
	placer    placer
}

// Node is the object's YAML node, for positions and text edits; nil for a
// standalone Bifrost config. It parses the document again on first use.
func (d *Document) Node() *yaml.Node {
	if d.node != nil || d.text == nil {
		return d.node
	}
	var root yaml.Node
	if err := yaml.Unmarshal(d.text, &root); err != nil || len(root.Content) == 0 {
		return nil // cannot happen: the same text parsed when it was loaded
	}
	d.node = root.Content[0]
	if d.item >= 0 {
		if item, _, depth := walk(d.node, rules.P("items", d.item)); depth == 2 {
			d.node = item
		}
	}
	return d.node
}

// Input is everything read from the paths: the objects and what could not
// be read.
type Input struct {
	// Complete marks the input as everything that exists (Options.Complete).
	Complete bool
	// DefaultNamespace is Options.DefaultNamespace.
	DefaultNamespace string
	Sources          []*Source
	Documents        []*Document
	Problems         []Located
	// Parsed counts the non-empty documents parsed into YAML nodes; with
	// parseOnly (Parse) that is where loading stops.
	Parsed    int
	parseOnly bool

	// render says how to render charts; nil loads plain files only, as
	// Load does. renderings are the charts and kustomizations rendered,
	// whose objects are also in Documents.
	render     *RenderOptions
	renderings []*rendering
	// placed holds the files findings in rendered objects are placed in.
	placed sourceFiles
}

// UsageError is bad invocation (a path that does not exist), as opposed to
// bad input; the CLI exits 2 for it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Load reads the files and directories named by paths ("-" is stdin),
// skipping files that match an ignore glob.
// Helm charts and kustomization roots found are rendered with default
// settings.
func Load(paths []string, stdin io.Reader, ignore []string) (*Input, error) {
	return load(&Input{render: &RenderOptions{}}, paths, stdin, ignore)
}

// Parse walks, reads, splits and parses the input exactly as Load does,
// but stops at the YAML node trees and keeps none of them: the floor that
// benchmarks compare a lint against. Charts and kustomizations are not
// rendered. The Input holds the sources, parse
// problems and the count of parsed documents, no Documents.
func Parse(paths []string, stdin io.Reader, ignore []string) (*Input, error) {
	return load(&Input{parseOnly: true}, paths, stdin, ignore)
}

func load(in *Input, paths []string, stdin io.Reader, ignore []string) (*Input, error) {
	for _, g := range ignore {
		if !doublestar.ValidatePattern(g) {
			return nil, &UsageError{fmt.Errorf("ignore pattern %q is not a valid glob", g)}
		}
	}
	if in.render != nil {
		if err := in.render.checkValueFiles(); err != nil {
			return nil, err
		}
	}
	var files []*fileToLoad
	var found inputTree
	for _, p := range paths {
		if p == "-" {
			data, err := readLimited(stdin)
			files = append(files, &fileToLoad{src: &Source{Name: StdinName}, data: data, err: err, read: true})
			continue
		}
		if err := found.expand(p, ignore); err != nil {
			return nil, err
		}
	}
	// Kustomizations decide which files are theirs: those are linted as
	// part of the build, not again on their own.
	var kt *kustomizeTree
	if len(found.kustomizations) > 0 {
		kt = scanKustomizations(found.kustomizations)
		consumed := kt.consumed()
		kept := found.files[:0]
		for _, f := range found.files {
			if abs, err := filepath.Abs(f); err != nil || !consumed[abs] {
				kept = append(kept, f)
			}
		}
		found.files = kept
	}
	for _, f := range found.files {
		files = append(files, &fileToLoad{src: &Source{Name: filepath.ToSlash(f), Path: f, JSON: strings.EqualFold(filepath.Ext(f), ".json")}})
	}
	// Files are read and parsed on every core, each into its own part,
	// and the parts joined in order: the same Input as one by one.
	parts := make([]*Input, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				f := files[i]
				if !f.read {
					f.data, f.err = readFile(f.src.Path)
				}
				part := &Input{parseOnly: in.parseOnly}
				part.add(f.src, f.data, f.err)
				parts[i], files[i] = part, nil
			}
		})
	}
	wg.Wait()
	for _, part := range parts {
		in.Sources = append(in.Sources, part.Sources...)
		in.Documents = append(in.Documents, part.Documents...)
		in.Problems = append(in.Problems, part.Problems...)
		in.Parsed += part.Parsed
	}
	if in.render == nil || in.parseOnly {
		return in, nil
	}
	in.renderCharts(found.charts)
	if kt != nil {
		in.Problems = append(in.Problems, kt.problems...)
		for _, root := range kt.roots() {
			in.buildKustomization(kt, root)
		}
	}
	return in, nil
}

// fileToLoad is one input file; stdin is read before the files are
// loaded in parallel.
type fileToLoad struct {
	src  *Source
	data []byte
	err  error
	read bool
}

// inputTree is what the arguments name: manifest files to read as they
// are, Helm charts to render and kustomization directories to build.
type inputTree struct {
	files          []string
	charts         []string
	kustomizations []string
}

// expand adds what p holds: p itself if it is a file (a Chart.yaml or a
// kustomization file stands for its directory), or every .yaml, .yml and
// .json file below it, skipping hidden directories. A directory holding
// Chart.yaml is a chart, rendered rather than read (its templates are not
// YAML until then), and one holding a kustomization file is built.
func (t *inputTree) expand(p string, ignore []string) error {
	info, err := os.Stat(p)
	if err != nil {
		return &UsageError{fmt.Errorf("%s: no such file or directory", p)}
	}
	if !info.IsDir() {
		switch {
		case ignored(p, ignore):
		case filepath.Base(p) == "Chart.yaml":
			t.charts = append(t.charts, filepath.Dir(p))
		case isKustomizationFile(p):
			t.kustomizations = append(t.kustomizations, filepath.Dir(p))
		default:
			t.files = append(t.files, p)
		}
		return nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ignored(path, ignore) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			name := d.Name()
			if path != p && strings.HasPrefix(name, ".") && name != "." && name != ".." {
				return filepath.SkipDir
			}
			if fileExists(filepath.Join(path, "Chart.yaml")) {
				t.charts = append(t.charts, path)
				return filepath.SkipDir
			}
			if findKustomizationFile(path) != "" {
				t.kustomizations = append(t.kustomizations, path)
			}
			return nil
		}
		if isKustomizationFile(path) {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return &UsageError{err}
	}
	sort.Strings(files)
	t.files = append(t.files, files...)
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func ignored(p string, globs []string) bool {
	slash := filepath.ToSlash(filepath.Clean(p))
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, slash); ok {
			return true
		}
		if ok, _ := doublestar.Match(g, strings.TrimPrefix(slash, "./")); ok {
			return true
		}
	}
	return false
}

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

var errTooLarge = fmt.Errorf("file is larger than %d MiB; split it", MaxFileSize>>20)

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, errTooLarge
	}
	return data, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func (in *Input) add(src *Source, data []byte, readErr error) {
	in.Sources = append(in.Sources, src)
	if readErr != nil {
		in.problem(src, 1, 1, "cannot read file: %v", readErr)
		return
	}
	if bytes.HasPrefix(data, utf8BOM) {
		src.BOM = true
		data = data[len(utf8BOM):]
	}
	src.Text = data
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := rules.LineCol(string(data[:i]), i)
		in.problem(src, line, col, "binary data (a NUL byte) in a manifest file")
		return
	}
	if !utf8.Valid(data) {
		off := firstInvalidUTF8(data)
		line, col := rules.LineCol(string(data[:off]), off)
		in.problem(src, line, col, "file is not valid UTF-8")
		return
	}
	if src.JSON {
		in.addChunk(src, data, 1)
		if in.parseOnly {
			src.Text = nil
		}
		return
	}
	for _, c := range splitDocuments(data) {
		in.addChunk(src, c.text, c.line)
	}
	if in.parseOnly {
		src.Text = nil // the floor keeps nothing per file
	}
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

type chunk struct {
	text []byte
	line int // 1-based line of the chunk's first byte in the file
}

// splitDocuments cuts a YAML stream at "---" and "..." lines, so that a
// broken document does not hide the ones after it and each is parsed alone.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	start, startLine, line := 0, 1, 1
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data) + 1
		if end >= 0 {
			end += i
			next = end + 1
		} else {
			end = len(data)
		}
		text := bytes.TrimRight(data[i:end], "\r")
		if isSeparator(text, "---") || isSeparator(text, "...") {
			out = append(out, chunk{data[start:i], startLine})
			start, startLine = next, line+1
			if rest := bytes.TrimSpace(text[3:]); text[0] == '-' && len(rest) > 0 && rest[0] != '#' {
				// "--- {a: 1}" starts a document on the marker line.
				start, startLine = i, line
			}
		}
		i = next
		line++
	}
	if start < len(data) {
		out = append(out, chunk{data[start:], startLine})
	}
	return out
}

func isSeparator(line []byte, marker string) bool {
	if !bytes.HasPrefix(line, []byte(marker)) {
		return false
	}
	rest := line[len(marker):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t'
}

var yamlErrLine = regexp.MustCompile(`line (\d+)`)

func (in *Input) addChunk(src *Source, text []byte, firstLine int) {
	var root yaml.Node
	if err := yaml.Unmarshal(text, &root); err != nil {
		line := firstLine
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			line = firstLine + n - 1
		}
		if strings.Contains(err.Error(), "tab character") {
			line = firstLine + tabLine(text, line-firstLine)
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = yamlErrLine.ReplaceAllString(msg, "")
		msg = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(msg), ":"))
		in.problem(src, line, 1, "cannot parse %s: %s", kindOfText(src), msg)
		return
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return // empty document or only comments
	}
	in.Parsed++
	if in.parseOnly {
		return // the benchmark floor: parsed into nodes, nothing kept
	}
	base := firstLine - 1
	node := root.Content[0]
	v, err := newConverter(&root).value(&root, 0)
	if err != nil {
		in.problem(src, base+node.Line, node.Column, "cannot read document: %v", err)
		return
	}
	content, ok := v.(map[string]any)
	if !ok {
		return // a list or scalar document is not an object
	}
	if content["apiVersion"] == nil && content["kind"] == nil {
		for _, k := range builtin.Files {
			switch {
			case k.JSON != src.JSON || !k.Matches(src.Name, content):
				continue
			case k.JSON:
				// Positions come from offsets in the file's own text.
				in.Documents = append(in.Documents, &Document{Source: src, Object: rules.NewFileObject(k, src.Name, string(src.Text), nil)})
			default:
				// Its YAML node gives findings their lines.
				in.Documents = append(in.Documents, &Document{Source: src, text: text, item: -1, LineBase: base, Object: rules.NewFileObject(k, src.Name, "", content)})
			}
			return
		}
	}
	in.addObject(src, text, -1, base, content)
}

// addObject adds an object, or the items of a List; item is the object's
// index among its List's items, -1 for a document of its own.
func (in *Input) addObject(src *Source, text []byte, item, base int, content map[string]any) {
	apiVersion, _ := content["apiVersion"].(string)
	kind, _ := content["kind"].(string)
	if apiVersion == "" || kind == "" {
		return // not a Kubernetes object (values files, CI configs, ...)
	}
	if items, ok := content["items"].([]any); ok && strings.HasSuffix(kind, "List") && item < 0 {
		for i, it := range items {
			if m, ok := it.(map[string]any); ok {
				in.addObject(src, text, i, base, m)
			}
		}
		return
	}
	in.Documents = append(in.Documents, &Document{Source: src, text: text, item: item, LineBase: base, Object: rules.NewObject(content)})
}

// tabLine finds the first line from line0 (0-based) on that is indented
// with a tab: the parser reports tab errors at the line before.
func tabLine(text []byte, line0 int) int {
	for i, l := range bytes.Split(text, []byte("\n")) {
		if i >= line0 && bytes.HasPrefix(bytes.TrimLeft(l, " "), []byte("\t")) {
			return i
		}
	}
	return line0
}

func kindOfText(src *Source) string {
	if src.JSON {
		return "JSON"
	}
	return "YAML"
}

func (in *Input) problem(src *Source, line, col int, format string, args ...any) {
	in.Problems = append(in.Problems, Located{
		Finding: rules.Finding{Rule: rules.ParseError.ID, Severity: rules.Error, Message: fmt.Sprintf(format, args...)},
		File:    src.Name, Line: line, Column: col,
	})
}
