package lint

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// Formatter renders a report. Each output format is one file implementing
// it, registered in Formats.
type Formatter interface {
	Format(w io.Writer, rep *Report, meta Meta) error
}

// Meta is what formats need beyond the findings.
type Meta struct {
	Rules   []*rules.Rule
	Version string
}

// Formats maps --format names to formatters.
var Formats = map[string]Formatter{
	"text":        textFormat{},
	"json":        jsonFormat{},
	"sarif":       sarifFormat{},
	"github":      githubFormat{},
	"junit":       junitFormat{},
	"codeclimate": codeclimateFormat{},
}

// FormatNames lists the formats for help text.
func FormatNames() string {
	names := make([]string, 0, len(Formats))
	for n := range Formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, "|")
}

// Summary counts findings by severity.
type Summary struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Info     int `json:"info"`
	Files    int `json:"files,omitempty"`
	Objects  int `json:"objects"`
	// Renderings counts the charts rendered and kustomizations built.
	Renderings int `json:"renderings,omitempty"`
}

// Notice is something a run could not do, said once and apart from the
// findings: the audit names a kind it was not allowed to list. Formats that
// have a place for it show it (JSON notices, SARIF tool notifications,
// GitHub annotations); the text format leaves it to the command's stderr.
type Notice struct {
	// Level is Error when the report is incomplete because of it, Warning
	// when the run went on around it.
	Level   rules.Severity `json:"level"`
	Message string         `json:"message"`
}

// Summarize counts a report's findings.
func (r *Report) Summarize() Summary {
	s := Summary{Files: r.Files, Objects: r.Objects, Renderings: r.Renderings}
	for _, f := range r.Findings {
		switch f.Severity {
		case rules.Error:
			s.Errors++
		case rules.Warning:
			s.Warnings++
		default:
			s.Info++
		}
	}
	return s
}

func (s Summary) String() string {
	in := Plural(s.Files, "file")
	if s.Renderings > 0 {
		in += " and " + Plural(s.Renderings, "rendering")
	}
	return fmt.Sprintf("%s, %s, %s in %s (%s)",
		Plural(s.Errors, "error"), Plural(s.Warnings, "warning"), Plural(s.Info, "info finding"),
		in, Plural(s.Objects, "object"))
}

// Plural writes a count with its noun.
func Plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, what)
	}
	if strings.HasSuffix(what, "x") {
		return fmt.Sprintf("%d %ses", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
