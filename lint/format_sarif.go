package lint

import (
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
)

// sarifFormat writes SARIF 2.1.0 as GitHub code scanning accepts it: one
// run, the rules with help text, results with physical locations relative
// to the repository root.
type sarifFormat struct{}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
	// Columns count characters (Unicode code points), as YAML positions do.
	ColumnKind string `json:"columnKind"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifRuleLevel `json:"defaultConfiguration"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifRuleLevel struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags []string `json:"tags"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

// sarifLocation is a file position, or for a finding without a file (an
// object in a cluster) a logical location naming the object.
type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifInvocation carries the run's notices as tool notifications.
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           sarifRegion           `json:"region"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
}

func sarifLevel(s rules.Severity) string {
	switch s {
	case rules.Error:
		return "error"
	case rules.Warning:
		return "warning"
	}
	return "note"
}

func (sarifFormat) Format(w io.Writer, rep *Report, meta Meta) error {
	driver := sarifDriver{Name: "gjallar", Version: meta.Version, InformationURI: "https://github.com/gjallar-dev/gjallar", Rules: []sarifRule{}}
	index := map[string]int{}
	for _, r := range meta.Rules {
		index[r.ID] = len(driver.Rules)
		driver.Rules = append(driver.Rules, sarifRule{
			ID:                   r.ID,
			Name:                 ruleName(r.ID),
			ShortDescription:     sarifText{Text: r.Summary},
			FullDescription:      sarifText{Text: r.Rationale},
			Help:                 sarifText{Text: r.Rationale, Markdown: "**" + r.Summary + "**\n\n" + r.Rationale},
			DefaultConfiguration: sarifRuleLevel{Level: sarifLevel(r.Severity)},
			Properties:           sarifRuleProps{Tags: []string{"kubernetes", "gjallar"}},
		})
	}
	results := make([]sarifResult, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		i, ok := index[f.Rule]
		if !ok {
			// A finding from a rule the caller did not list (a user policy):
			// describe it from the finding so the log stays valid.
			i = len(driver.Rules)
			index[f.Rule] = i
			driver.Rules = append(driver.Rules, sarifRule{
				ID: f.Rule, Name: ruleName(f.Rule),
				ShortDescription:     sarifText{Text: f.Rule},
				FullDescription:      sarifText{Text: f.Rule},
				Help:                 sarifText{Text: f.Rule},
				DefaultConfiguration: sarifRuleLevel{Level: sarifLevel(f.Severity)},
				Properties:           sarifRuleProps{Tags: []string{"kubernetes", "gjallar"}},
			})
		}
		msg := f.Message
		if p := f.FieldPath(); p != "" {
			msg += " (" + f.Object.String() + ", " + p + ")"
		} else if f.Object.Kind != "" {
			msg += " (" + f.Object.String() + ")"
		}
		results = append(results, sarifResult{
			RuleID: f.Rule, RuleIndex: i, Level: sarifLevel(f.Severity),
			Message: sarifText{Text: msg}, Locations: []sarifLocation{sarifWhere(f)},
		})
	}
	var invocations []sarifInvocation
	if len(rep.Notices) > 0 {
		inv := sarifInvocation{ExecutionSuccessful: true}
		for _, n := range rep.Notices {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{Level: sarifLevel(n.Level), Message: sarifText{Text: n.Message}})
			if n.Level == rules.Error {
				inv.ExecutionSuccessful = false
			}
		}
		invocations = append(invocations, inv)
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Invocations: invocations, Results: results, ColumnKind: "unicodeCodePoints"}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// sarifWhere locates a finding in its file, or names its object when it
// has none: apiVersion/Kind/namespace/name, the path of a resource.
func sarifWhere(f Located) sarifLocation {
	if f.File == "" {
		o := f.Object
		fqn := o.APIVersion + "/" + o.Kind + "/"
		if o.Namespace != "" {
			fqn += o.Namespace + "/"
		}
		return sarifLocation{LogicalLocations: []sarifLogical{{Name: o.Name, FullyQualifiedName: fqn + o.Name, Kind: "resource"}}}
	}
	return sarifLocation{PhysicalLocation: &sarifPhysical{
		ArtifactLocation: sarifArtifact(f.File),
		Region:           sarifRegion{StartLine: max(f.Line, 1), StartColumn: max(f.Column, 1)},
	}}
}

// ruleName turns an ID into the PascalCase name SARIF viewers show.
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// sarifArtifact names a file relative to the repository root (the working
// directory), which is how code scanning resolves it; a file outside it
// gets an absolute file URI instead.
func sarifArtifact(file string) sarifArtifactLocation {
	if file == StdinName {
		return sarifArtifactLocation{URI: "stdin"}
	}
	rel, inside := repoPath(file)
	if !inside {
		u := url.URL{Scheme: "file", Path: rel}
		return sarifArtifactLocation{URI: u.String()}
	}
	return sarifArtifactLocation{URI: escapePath(rel), URIBaseID: "%SRCROOT%"}
}

// repoPath is a file's path relative to the repository root (the working
// directory) with forward slashes, or its absolute path when it lies
// outside; inside says which.
func repoPath(file string) (path string, inside bool) {
	rel := filepath.ToSlash(filepath.Clean(file))
	if filepath.IsAbs(file) {
		if wd, err := os.Getwd(); err == nil {
			if r, err := filepath.Rel(wd, file); err == nil {
				rel = filepath.ToSlash(r)
			}
		}
	}
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		abs, err := filepath.Abs(file)
		if err != nil {
			abs = file
		}
		return filepath.ToSlash(abs), false
	}
	return rel, true
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		parts[i] = url.PathEscape(part)
	}
	return strings.Join(parts, "/")
}
