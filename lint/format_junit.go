package lint

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"

	"github.com/gjallar-dev/gjallar/rules"
)

// junitFormat writes JUnit XML, which GitLab (artifacts:reports:junit),
// Jenkins (the junit step) and Azure Pipelines (PublishTestResults) show
// as test reports. Each rule is a test suite; each error or warning a
// failed test case named by where it is; an info finding a passed case
// with its message as output; a rule with nothing to report one passed
// case, so the report lists every rule that ran.
type junitFormat struct{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

func (junitFormat) Format(w io.Writer, rep *Report, meta Meta) error {
	byRule := map[string][]Located{}
	var order []string
	for _, r := range meta.Rules {
		order = append(order, r.ID)
	}
	for _, f := range rep.Findings {
		if !slices.Contains(order, f.Rule) {
			order = append(order, f.Rule)
		}
		byRule[f.Rule] = append(byRule[f.Rule], f)
	}
	out := junitSuites{Name: "gjallar", Time: "0"}
	for _, id := range order {
		s := junitSuite{Name: id, Time: "0"}
		for _, f := range byRule[id] {
			c := junitCase{
				Name:      fmt.Sprintf("%s:%d:%d %s", f.File, f.Line, f.Column, f.Object),
				Classname: id, File: f.File, Line: f.Line, Time: "0",
			}
			detail := fmt.Sprintf("%s:%d:%d: %s %s: %s", f.File, f.Line, f.Column, f.Severity, f.Rule, f.Message)
			if p := f.FieldPath(); p != "" {
				detail += "\nat " + p + " of " + f.Object.String()
			}
			if f.Severity >= rules.Warning {
				c.Failure = &junitFailure{Message: f.Message, Type: f.Severity.String(), Body: detail}
				s.Failures++
			} else {
				c.SystemOut = detail
			}
			s.Cases = append(s.Cases, c)
		}
		if len(s.Cases) == 0 {
			s.Cases = []junitCase{{Name: "no findings", Classname: id, Time: "0"}}
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
