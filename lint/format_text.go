package lint

import (
	"bufio"
	"fmt"
	"io"
)

// textFormat prints one line per finding, file:line:col: severity rule:
// message, the form editors and grep understand.
type textFormat struct{}

func (textFormat) Format(w io.Writer, rep *Report, _ Meta) error {
	bw := bufio.NewWriter(w)
	for _, f := range rep.Findings {
		fmt.Fprintf(bw, "%s:%d:%d: %s %s: %s\n", f.File, f.Line, f.Column, f.Severity, f.Rule, f.Message)
	}
	return bw.Flush()
}
