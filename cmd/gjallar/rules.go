package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

func newRulesCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List every built-in rule and policy: ID, default severity, fixable, summary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list := allRules()
			w := cmd.OutOrStdout()
			switch format {
			case "text":
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tFIXABLE\tSUMMARY")
				for _, r := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, yesNo(r.Fixable), r.Summary)
				}
				return tw.Flush()
			case "markdown":
				_, err := fmt.Fprint(w, RulesMarkdown(list))
				return err
			case "json":
				type jsonRule struct {
					ID        string         `json:"id"`
					Severity  rules.Severity `json:"severity"`
					Fixable   bool           `json:"fixable"`
					Summary   string         `json:"summary"`
					Rationale string         `json:"rationale"`
				}
				out := make([]jsonRule, 0, len(list))
				for _, r := range list {
					out = append(out, jsonRule{r.ID, r.Severity, r.Fixable, r.Summary, r.Rationale})
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return usageErr(fmt.Errorf("unknown --format %q (want text|markdown|json)", format))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "text", "text|markdown|json")
	return cmd
}

// allRules lists the Go rules, then the built-in Rego policies.
func allRules() []*rules.Rule {
	return append(builtin.Rules(), builtinPolicyRules()...)
}

// RulesMarkdown renders the README's rules table from the rules' own
// metadata, so the two cannot drift apart.
func RulesMarkdown(list []*rules.Rule) string {
	var b strings.Builder
	b.WriteString("| Rule | Severity | Fixable | What it catches |\n|---|---|---|---|\n")
	for _, r := range list {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.ID, r.Severity, yesNo(r.Fixable), r.Summary)
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newSchemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema gjallar checks Bifrost configs against",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(bifrost.SchemaJSON())
			return err
		},
	}
}
