package lint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"

	"github.com/gjallar-dev/gjallar/rules"
)

// codeclimateFormat writes the Code Climate issue list that GitLab reads
// as a merge request's Code Quality report (artifacts:reports:codequality):
// a JSON array of issues, each with a description, a check name, a
// severity, a fingerprint and a location, paths relative to the
// repository root.
type codeclimateFormat struct{}

type codeclimateIssue struct {
	Type        string              `json:"type"`
	CheckName   string              `json:"check_name"`
	Description string              `json:"description"`
	Categories  []string            `json:"categories"`
	Severity    string              `json:"severity"`
	Fingerprint string              `json:"fingerprint"`
	Location    codeclimateLocation `json:"location"`
}

type codeclimateLocation struct {
	Path      string              `json:"path"`
	Positions codeclimatePosRange `json:"positions"`
}

type codeclimatePosRange struct {
	Begin codeclimatePos `json:"begin"`
}

type codeclimatePos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// codeclimateSeverity maps gjallar's severities onto GitLab's scale (info,
// minor, major, critical, blocker): an error breaks the stack, so it ranks
// above a warning in the widget.
func codeclimateSeverity(s rules.Severity) string {
	switch s {
	case rules.Error:
		return "critical"
	case rules.Warning:
		return "minor"
	}
	return "info"
}

func (codeclimateFormat) Format(w io.Writer, rep *Report, _ Meta) error {
	out := make([]codeclimateIssue, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		out = append(out, codeclimateIssue{
			Type: "issue", CheckName: f.Rule, Description: f.Message,
			Categories:  []string{"Bug Risk"},
			Severity:    codeclimateSeverity(f.Severity),
			Fingerprint: codeclimateFingerprint(f),
			Location: codeclimateLocation{
				Path:      repoRelative(f.File),
				Positions: codeclimatePosRange{Begin: codeclimatePos{Line: max(f.Line, 1), Column: max(f.Column, 1)}},
			},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// codeclimateFingerprint identifies an issue across pipelines, so GitLab
// can tell new issues from fixed ones: the rule, file, object, field and
// message, but not the line, which moves when lines above it change.
func codeclimateFingerprint(f Located) string {
	h := sha256.New()
	for _, part := range []string{f.Rule, repoRelative(f.File), f.Object.String(), f.FieldPath(), f.Message} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// repoRelative is a finding's file relative to the repository root (the
// working directory), as CI reports name files.
func repoRelative(file string) string {
	if file == StdinName {
		return "stdin"
	}
	p, _ := repoPath(file)
	return p
}
