package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/rules"
)

func newLintCommand() *cobra.Command {
	var (
		format, failOn, configPath string
		defaultNamespace           string
		fix, quiet, complete       bool
		parseOnly                  bool
		pf                         policyFlags
		render                     lint.RenderOptions
	)
	cmd := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Check manifests and Bifrost configs offline",
		Long: "Check Kubernetes manifests (YAML or JSON, multi-document, kind: List) and Bifrost\n" +
			"config.json files. PATH is a file or a directory (searched recursively for .yaml,\n" +
			".yml and .json); - reads standard input; no PATH means the current directory.\n\n" +
			"A directory holding Chart.yaml is rendered as helm template would (values from\n" +
			"--values/--set and the charts section of .gjallar.yaml; dependencies must be vendored\n" +
			"under charts/). A directory holding kustomization.yaml is built as kustomize build\n" +
			"would, from local files only, when no other kustomization found includes it; the\n" +
			"files a kustomization uses are linted as part of its build, not on their own.\n" +
			"Findings in rendered objects point at the template, values file, resource, patch\n" +
			"or generator source the value came from; --fix never edits rendered output.\n\n" +
			"--policy adds Rego policies written as for conftest (see gjallar policy --help) to\n" +
			"the built-in rules and policies.\n\n" +
			"Exit status: 0 when no finding is at or above --fail-on, 1 when one is, 2 for a\n" +
			"usage error (unknown flag, missing path, bad config file, a policy that does not\n" +
			"compile).",
		Example: "  gjallar lint deploy/\n" +
			"  gjallar lint --format sarif . > gjallar.sarif\n" +
			"  gjallar lint charts/bifrost --values envs/prod.yaml\n" +
			"  gjallar lint overlays/prod\n" +
			"  gjallar lint --fix deploy/\n" +
			"  gjallar lint --policy policy/ deploy/",
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Getenv("GOGC") == "" {
				// A lint holds every object until it ends, so the default
				// collector re-marks a growing heap over and over; twice the
				// headroom cuts a 10,000-object lint's time by an eighth for
				// 7% more peak memory (BENCHMARKS.md). GOGC still overrides.
				debug.SetGCPercent(200)
			}
			formatter, ok := lint.Formats[format]
			if !ok {
				return usageErr(fmt.Errorf("unknown --format %q (want %s)", format, lint.FormatNames()))
			}
			threshold, err := parseFailOn(failOn)
			if err != nil {
				return usageErr(err)
			}
			if len(args) == 0 {
				args = []string{"."}
			}
			for _, a := range args {
				if a == "-" && fix {
					return usageErr(errors.New("--fix rewrites files and cannot be used with - (stdin)"))
				}
			}
			if parseOnly {
				return parseOnlyRun(cmd, args, configPath)
			}
			cfg, _, engine, err := pf.engine(configPath)
			if err != nil {
				return usageErr(err)
			}
			if render.Charts, err = lint.ChartSettingsFrom(cfg); err != nil {
				return usageErr(err)
			}
			opts := lint.Options{Paths: args, Stdin: cmd.InOrStdin(), Complete: complete, DefaultNamespace: defaultNamespace, Render: render}
			if cfg != nil {
				opts.Ignore = cfg.Ignore
			}
			var rep *lint.Report
			if fix {
				var res *lint.FixResult
				rep, res, err = lint.Fix(engine, opts)
				if err == nil {
					for _, f := range res.Failed {
						fmt.Fprintln(cmd.ErrOrStderr(), f)
					}
					if !quiet && res.Applied > 0 {
						fmt.Fprintf(cmd.ErrOrStderr(), "gjallar: applied %s to %s\n", lint.Plural(res.Applied, "fix"), lint.Plural(len(res.Files), "file"))
					}
				}
			} else {
				rep, _, err = lint.Lint(engine, opts)
			}
			if err != nil {
				var ue *lint.UsageError
				if errors.As(err, &ue) {
					return usageErr(err)
				}
				return err
			}
			if err := formatter.Format(cmd.OutOrStdout(), rep, lint.Meta{Rules: engine.Rules(), Version: version()}); err != nil {
				return err
			}
			if !quiet && format == "text" {
				fmt.Fprintln(cmd.ErrOrStderr(), "gjallar:", rep.Summarize())
			}
			if threshold != 0 && rep.Count(threshold) > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&format, "format", "f", "text", "output format: "+lint.FormatNames())
	f.StringVar(&failOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: error|warning|info|none")
	f.StringVarP(&configPath, "config", "c", "", "config file (default ./"+lint.DefaultConfigFile+" when present)")
	f.BoolVar(&fix, "fix", false, "apply fixes to the files in place, then report what is left")
	f.BoolVarP(&quiet, "quiet", "q", false, "no summary line on stderr")
	f.BoolVar(&complete, "complete", false, "the input is everything that exists (e.g. a dump of a whole cluster): an object it lacks is missing, not elsewhere")
	f.StringVar(&defaultNamespace, "default-namespace", "default", "the namespace objects that name none are applied to, as with kubectl apply -n (--namespace names Rego packages, as in conftest)")
	f.StringArrayVarP(&pf.paths, "policy", "p", nil, "Rego policy file or directory to add (repeatable)")
	f.StringArrayVar(&render.ValueFiles, "values", nil, "values file for every Helm chart linted, as helm template -f (repeatable)")
	f.StringArrayVar(&render.Set, "set", nil, "value for every Helm chart linted, as helm template --set (repeatable)")
	f.StringArrayVar(&render.SetString, "set-string", nil, "string value for every Helm chart linted, as helm template --set-string (repeatable)")
	f.StringVar(&render.ReleaseName, "release-name", "", "release name to render Helm charts with (default release-name, as helm template)")
	f.StringVar(&render.Namespace, "release-namespace", "", "namespace to render Helm charts in (default \"default\", as helm template)")
	pf.register(f, true)
	f.BoolVar(&parseOnly, "parse-only", false, "read and parse the files into YAML nodes as lint does, then stop (the benchmark floor)")
	_ = f.MarkHidden("parse-only")
	return cmd
}

// parseOnlyRun is the benchmark floor (BENCHMARKS.md): the same binary, the
// same file walk, document splitting and YAML parser as a lint, and nothing
// after the node trees.
func parseOnlyRun(cmd *cobra.Command, args []string, configPath string) error {
	cfg, err := lint.LoadConfig(configPath)
	if err != nil {
		return usageErr(err)
	}
	var ignore []string
	if cfg != nil {
		ignore = cfg.Ignore
	}
	in, err := lint.Parse(args, cmd.InOrStdin(), ignore)
	if err != nil {
		var ue *lint.UsageError
		if errors.As(err, &ue) {
			return usageErr(err)
		}
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "gjallar: parsed %d documents in %d files (%d parse errors)\n", in.Parsed, len(in.Sources), len(in.Problems))
	return nil
}

func parseFailOn(s string) (rules.Severity, error) {
	if s == "none" {
		return 0, nil
	}
	sev, err := rules.ParseSeverity(s)
	if err != nil {
		return 0, fmt.Errorf("--fail-on: %w", err)
	}
	return sev, nil
}
