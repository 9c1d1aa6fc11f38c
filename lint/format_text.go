package lint

import (
	"bufio"
	"fmt"
	"io"
)

// textFormat prints one line per finding, file:line:col: severity rule:
// message, the form editors and grep understand (for a finding without a
// file, the object and field path stand in for file:line:col).
type textFormat struct{}

func (textFormat) Format(w io.Writer, rep *Report, _ Meta) error {
	bw := bufio.NewWriter(w)
	for _, f := range rep.Findings {
		fmt.Fprintf(bw, "%s: %s %s: %s\n", f.Where(), f.Severity, f.Rule, f.Message)
	}
	return bw.Flush()
}
