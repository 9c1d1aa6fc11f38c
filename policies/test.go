package policies

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one test_ rule.
type TestResult struct {
	// Name is the rule's full name, data.<package>.test_<name>.
	Name string
	// Where is the rule's file:line.
	Where    string
	Outcome  TestOutcome
	Duration time.Duration
	// Err says why the test could not run (ERROR outcome).
	Err error
	// Output is what the test printed with print().
	Output []byte
}

// TestOutcome is how a test ended.
type TestOutcome string

const (
	TestPass  TestOutcome = "PASS"
	TestFail  TestOutcome = "FAIL"
	TestError TestOutcome = "ERROR"
	TestSkip  TestOutcome = "SKIP"
)

// Test runs the test_ rules of the policies in opts.Paths (and of the
// built-in policies when opts.Builtin is set) the way `opa test` does,
// with data.gjallar.options holding the built-in policies' options. Files
// that do not compile give a *CompileError. Results are sorted by file and
// line.
func Test(ctx context.Context, opts Options) ([]TestResult, error) {
	opts.Tests = true
	src, err := readSources(opts)
	if err != nil {
		return nil, err
	}
	store, err := optionsStore(opts.Config)
	if err != nil {
		return nil, err
	}
	ch, err := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetStore(store).
		CapturePrintOutput(true).
		Run(ctx, src.modules)
	if err != nil {
		if errs, ok := err.(ast.Errors); ok {
			return nil, compileError(errs)
		}
		return nil, err
	}
	var out []TestResult
	for r := range ch {
		res := TestResult{
			Name:     r.Package + "." + r.Name,
			Duration: r.Duration,
			Err:      r.Error,
			Output:   r.Output,
		}
		if r.Location != nil {
			res.Where = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		switch {
		case r.Skip:
			res.Outcome = TestSkip
		case r.Error != nil:
			res.Outcome = TestError
		case r.Fail:
			res.Outcome = TestFail
		default:
			res.Outcome = TestPass
		}
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Where != out[j].Where {
			return lessWhere(out[i].Where, out[j].Where)
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// lessWhere orders file:line positions by file, then numerically by line.
func lessWhere(a, b string) bool {
	var fa, fb string
	var la, lb int
	splitWhere(a, &fa, &la)
	splitWhere(b, &fb, &lb)
	if fa != fb {
		return fa < fb
	}
	return la < lb
}

func splitWhere(s string, file *string, line *int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			*file = s[:i]
			fmt.Sscanf(s[i+1:], "%d", line)
			return
		}
	}
	*file = s
}
