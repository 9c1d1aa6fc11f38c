package lint

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// githubFormat prints GitHub Actions workflow commands, which annotate the
// pull request's diff without uploading SARIF.
type githubFormat struct{}

func (githubFormat) Format(w io.Writer, rep *Report, _ Meta) error {
	bw := bufio.NewWriter(w)
	for _, f := range rep.Findings {
		level := map[rules.Severity]string{rules.Error: "error", rules.Warning: "warning"}[f.Severity]
		if level == "" {
			level = "notice"
		}
		if f.File == "" {
			// No file to annotate: the annotation names the object.
			fmt.Fprintf(bw, "::%s title=%s::%s\n", level, escapeProperty(f.Rule), escapeData(f.Where()+": "+f.Message))
			continue
		}
		fmt.Fprintf(bw, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level,
			escapeProperty(f.File), f.Line, f.Column, escapeProperty(f.Rule), escapeData(f.Message))
	}
	for _, n := range rep.Notices {
		level := "warning"
		if n.Level == rules.Error {
			level = "error"
		}
		fmt.Fprintf(bw, "::%s title=gjallar::%s\n", level, escapeData(n.Message))
	}
	return bw.Flush()
}

func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
