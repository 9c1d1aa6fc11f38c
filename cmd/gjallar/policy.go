package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// policyFlags say which Rego policies to load; lint and the policy
// commands share them, with conftest's names.
type policyFlags struct {
	paths         []string
	namespaces    []string
	allNamespaces bool
	noBuiltin     bool
	regoVersion   string
}

// register adds the flags; selection is false for commands that run every
// package (policy test).
func (p *policyFlags) register(f *pflag.FlagSet, selection bool) {
	f.StringVar(&p.regoVersion, "rego-version", "v1", "Rego syntax of your policies: v1 or v0 (rules without if/contains)")
	if !selection {
		return
	}
	f.StringArrayVarP(&p.namespaces, "namespace", "n", nil, "package whose deny/violation/warn rules run (repeatable; default main)")
	f.BoolVar(&p.allNamespaces, "all-namespaces", false, "run the rules of every package")
	f.BoolVar(&p.noBuiltin, "no-builtin-policies", false, "leave out gjallar's built-in Rego policies")
}

func (p *policyFlags) options(paths []string, cfg *rules.Config) (policies.Options, error) {
	opts := policies.Options{
		Builtin:       !p.noBuiltin,
		Paths:         paths,
		Namespaces:    p.namespaces,
		AllNamespaces: p.allNamespaces,
		Config:        cfg,
	}
	switch p.regoVersion {
	case "v1":
	case "v0":
		opts.RegoV0 = true
	default:
		return opts, fmt.Errorf("unknown --rego-version %q (want v1 or v0)", p.regoVersion)
	}
	return opts, nil
}

// engine loads the .gjallar.yaml at configPath and the Rego policies the
// flags select, and builds the engine lint and audit run: the built-in rules
// plus those policies. It returns the config (nil without a file) and the
// policy set so callers can read its kinds.
func (p *policyFlags) engine(configPath string) (*rules.Config, *policies.Set, *rules.Engine, error) {
	cfg, err := lint.LoadConfig(configPath)
	if err != nil {
		return nil, nil, nil, err
	}
	popts, err := p.options(p.paths, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	set, err := policies.Load(popts)
	if err != nil {
		return nil, nil, nil, err
	}
	engine, err := rules.NewEngine(builtin.Rules(), cfg, set)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, set, engine, nil
}

// commandOptions is options for the policy commands, whose PATH defaults
// to ./policy as conftest's does.
func (p *policyFlags) commandOptions(args []string) (policies.Options, error) {
	if len(args) == 0 {
		args = []string{"policy"}
	}
	opts, err := p.options(args, nil)
	if err != nil {
		return opts, usageErr(err)
	}
	return opts, nil
}

// builtinPolicyRules describes the built-in policies and policy-error for
// listings.
func builtinPolicyRules() []*rules.Rule {
	set, err := policies.Load(policies.Options{Builtin: true})
	if err != nil {
		panic("built-in policies do not compile: " + err.Error()) // caught by go test
	}
	return set.Rules()
}

func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test and check Rego policies for gjallar lint --policy",
		Long: "Rego policies add rules of your own, written as for conftest: in package main (or\n" +
			"the packages --namespace names), rules deny, violation and warn (optionally deny_<name>)\n" +
			"yield a message or {\"msg\": ..., \"rule\": ..., \"severity\": ..., \"path\": ...}. input is\n" +
			"the object; data.inventory holds the other objects, as Gatekeeper arranges them.",
	}
	cmd.AddCommand(newPolicyTestCommand(), newPolicyCheckCommand())
	return cmd
}

func newPolicyTestCommand() *cobra.Command {
	var (
		pf      policyFlags
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run the policies' unit tests (test_ rules), as opa test does",
		Long: "Run every test_ rule in PATH (.rego files or directories, default ./policy), the way\n" +
			"opa test and conftest verify do.\n\n" +
			"Exit status: 0 when every test passes, 1 when one fails or errors or there are no\n" +
			"tests, 2 when the policies do not compile or a PATH is missing.",
		Example: "  gjallar policy test policy/\n  gjallar policy test -v policy/ shared-policies/",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pf.commandOptions(args)
			if err != nil {
				return err
			}
			opts.Builtin = false
			results, err := policies.Test(cmd.Context(), opts)
			if err != nil {
				return usageErr(err)
			}
			w := cmd.OutOrStdout()
			count := map[policies.TestOutcome]int{}
			for _, r := range results {
				count[r.Outcome]++
				if r.Outcome == policies.TestPass && !verbose {
					continue
				}
				fmt.Fprintf(w, "%s: %s %s (%s)\n", r.Where, r.Outcome, r.Name, r.Duration.Round(time.Microsecond))
				if r.Err != nil {
					fmt.Fprintf(w, "  %v\n", r.Err)
				}
				if r.Outcome != policies.TestPass && len(r.Output) > 0 {
					fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(strings.TrimRight(string(r.Output), "\n"), "\n", "\n  "))
				}
			}
			fmt.Fprintf(w, "%d passed, %d failed, %d errors\n", count[policies.TestPass], count[policies.TestFail], count[policies.TestError])
			switch {
			case len(results) == 0:
				return &exitError{code: exitFindings, err: fmt.Errorf("no test_ rules in %s", strings.Join(opts.Paths, ", "))}
			case count[policies.TestFail]+count[policies.TestError] > 0:
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	pf.register(cmd.Flags(), false)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing tests too")
	return cmd
}

func newPolicyCheckCommand() *cobra.Command {
	var pf policyFlags
	cmd := &cobra.Command{
		Use:   "check [PATH...]",
		Short: "Compile the policies and list the rule IDs they report",
		Long: "Compile the policies in PATH (.rego files or directories, default ./policy), their\n" +
			"tests included, together with the built-in ones, as lint --policy would. Each problem\n" +
			"is printed as file:line: message. Otherwise the rule IDs the policies report are\n" +
			"listed: the IDs .gjallar.yaml and gjallar.dev/ignore accept for them.\n\n" +
			"Exit status: 0 when the policies compile, 1 when they do not, 2 for a usage error\n" +
			"(missing PATH, unknown --namespace).",
		Example: "  gjallar policy check policy/",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pf.commandOptions(args)
			if err != nil {
				return err
			}
			opts.Tests = true
			set, err := policies.Load(opts)
			w := cmd.OutOrStdout()
			var ce *policies.CompileError
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					fmt.Fprintln(w, p)
				}
				return &exitError{code: exitFindings, err: fmt.Errorf("%d problems in the policies", len(ce.Problems))}
			}
			if err != nil {
				return usageErr(err)
			}
			builtin := map[string]bool{}
			for _, r := range builtinPolicyRules() {
				builtin[r.ID] = true
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEVERITY\tSUMMARY")
			n := 0
			for _, r := range set.Rules() {
				if builtin[r.ID] {
					continue
				}
				n++
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Severity, r.Summary)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "gjallar: compiled %s; %s\n", lint.Plural(set.Files(), "policy file"), lint.Plural(n, "rule ID"))
			return nil
		},
	}
	pf.register(cmd.Flags(), true)
	return cmd
}
