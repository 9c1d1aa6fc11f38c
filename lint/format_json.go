package lint

import (
	"encoding/json"
	"io"

	"github.com/gjallar-dev/gjallar/rules"
)

// jsonFormat is the machine-readable report.
type jsonFormat struct{}

type jsonFinding struct {
	Rule     string          `json:"rule"`
	Severity rules.Severity  `json:"severity"`
	Message  string          `json:"message"`
	File     string          `json:"file,omitempty"`
	Line     int             `json:"line,omitempty"`
	Column   int             `json:"column,omitempty"`
	Object   rules.ObjectRef `json:"object"`
	Path     string          `json:"path"`
	Fixable  bool            `json:"fixable"`
}

type jsonReport struct {
	Findings []jsonFinding `json:"findings"`
	Notices  []Notice      `json:"notices,omitempty"`
	Summary  Summary       `json:"summary"`
}

func (jsonFormat) Format(w io.Writer, rep *Report, _ Meta) error {
	out := jsonReport{Findings: make([]jsonFinding, 0, len(rep.Findings)), Notices: rep.Notices, Summary: rep.Summarize()}
	for _, f := range rep.Findings {
		out.Findings = append(out.Findings, jsonFinding{
			Rule: f.Rule, Severity: f.Severity, Message: f.Message,
			File: f.File, Line: f.Line, Column: f.Column,
			Object: f.Object, Path: f.FieldPath(), Fixable: f.Fix != nil,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
