package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gjallar-dev/gjallar/audit"
	"github.com/gjallar-dev/gjallar/lint"
)

// exitIncomplete: some kind could not be read (not an RBAC refusal), so
// the findings cover only part of the cluster.
const exitIncomplete = 3

// policyReportFormat is the format that writes PolicyReports instead of
// one of lint's reports.
const policyReportFormat = "policyreport"

func newAuditCommand() *cobra.Command {
	var (
		kubeconfig, kubeContext, namespace string
		allNamespaces, secrets, quiet      bool
		format, failOn, configPath, api    string
		kinds                              []string
		pf                                 policyFlags
		pageSize                           int64
		retryFor                           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "audit [-n NAMESPACE | -A]",
		Short: "Check what already runs in a cluster",
		Long: "List the objects of every kind the rules and policies read (paged, only the kinds the\n" +
			"API server serves), check them with the same rules as gjallar lint and the webhook,\n" +
			"with the cluster as the complete index, and report the findings by object and field\n" +
			"path. .gjallar.yaml, the gjallar.dev/ignore annotation and --policy work as in lint;\n" +
			"namespaces labelled gjallar.dev/ignore=true are skipped. Objects a controller made\n" +
			"from its template (a Deployment's ReplicaSets and Pods) are judged through their owner.\n\n" +
			"A kind you may not list is reported once, and rules that need it say they could not\n" +
			"judge the objects they were checking. Secrets are read only with --secrets; no Secret\n" +
			"value is ever printed.\n\n" +
			"--format policyreport writes wgpolicyk8s.io/v1alpha2 PolicyReports (one per namespace\n" +
			"with findings) and a ClusterPolicyReport as YAML for kubectl apply; --report-api\n" +
			"openreports.io/v1alpha1 writes Reports and ClusterReports instead.\n\n" +
			"Exit status: 0 when no finding is at or above --fail-on, 1 when one is, 2 for a usage\n" +
			"error, 3 when the cluster could not be read, or the API server kept failing for some\n" +
			"kind (the audit is incomplete; --format policyreport then writes nothing).",
		Example: "  gjallar audit -A\n" +
			"  gjallar audit -n team-a --format json\n" +
			"  gjallar audit -A --secrets --policy policy/\n" +
			"  gjallar audit -A --format policyreport | kubectl apply -f -",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var formatter lint.Formatter
			if format != policyReportFormat {
				var ok bool
				if formatter, ok = lint.Formats[format]; !ok {
					return usageErr(fmt.Errorf("unknown --format %q (want %s|%s)", format, lint.FormatNames(), policyReportFormat))
				}
			}
			reportAPI, err := audit.ParseReportAPI(api)
			if err != nil {
				return usageErr(fmt.Errorf("--report-api: %w", err))
			}
			threshold, err := parseFailOn(failOn)
			if err != nil {
				return usageErr(err)
			}
			if allNamespaces && namespace != "" {
				return usageErr(errors.New("--namespace and --all-namespaces exclude each other"))
			}
			extra, err := parseKinds(kinds)
			if err != nil {
				return usageErr(err)
			}
			loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
				&clientcmd.ConfigOverrides{CurrentContext: kubeContext})
			restConfig, err := loader.ClientConfig()
			if err != nil {
				return usageErr(fmt.Errorf("kubeconfig: %w", err))
			}
			if restConfig.QPS == 0 {
				restConfig.QPS, restConfig.Burst = 50, 100 // paged lists, a few at a time: kubectl's pace
			}
			if !allNamespaces && namespace == "" {
				if namespace, _, err = loader.Namespace(); err != nil {
					return usageErr(fmt.Errorf("kubeconfig: %w", err))
				}
			}
			_, set, engine, err := pf.engine(configPath)
			if err != nil {
				return usageErr(err)
			}
			if set.Kinds() == nil && len(extra) == 0 && !quiet {
				fmt.Fprintln(cmd.ErrOrStderr(), "gjallar: your Rego policies see only the kinds the built-in rules read; add --kind KIND.GROUP for others")
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			res, err := audit.Run(ctx, engine, audit.Options{
				Config: restConfig, Namespace: namespace, Secrets: secrets,
				Kinds: extra, PolicyKinds: set.Kinds(), PageSize: pageSize, RetryFor: retryFor,
			})
			if err != nil {
				return &exitError{code: exitIncomplete, err: fmt.Errorf("nothing audited: %w", err)}
			}
			rep := res.LintReport()
			if !quiet || res.Incomplete() {
				for _, n := range rep.Notices {
					fmt.Fprintf(cmd.ErrOrStderr(), "gjallar: %s: %s\n", n.Level, n.Message)
				}
			}
			if formatter != nil {
				if err := formatter.Format(cmd.OutOrStdout(), rep, lint.Meta{Rules: engine.Rules(), Version: version()}); err != nil {
					return err
				}
			} else if !res.Incomplete() {
				reports, err := audit.Reports(reportAPI, res.Findings, time.Now())
				if err != nil {
					return err
				}
				if err := audit.WriteYAML(cmd.OutOrStdout(), reports); err != nil {
					return err
				}
			}
			if !quiet {
				s := rep.Summarize()
				fmt.Fprintf(cmd.ErrOrStderr(), "gjallar: %s, %s, %s in %s (%d kinds read, %d API requests, %s)\n",
					lint.Plural(s.Errors, "error"), lint.Plural(s.Warnings, "warning"), lint.Plural(s.Info, "info finding"),
					lint.Plural(res.Checked, "object"), res.Kinds, res.Requests, res.Duration.Round(time.Millisecond))
			}
			if res.Incomplete() {
				return &exitError{code: exitIncomplete, err: errors.New("the audit is incomplete: some kinds could not be read (see above); nothing it did not read is reported clean")}
			}
			if threshold != 0 && rep.Count(threshold) > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)")
	f.StringVar(&kubeContext, "context", "", "kubeconfig context to use (default: the current one)")
	f.StringVarP(&namespace, "namespace", "n", "", "audit this namespace (default: the context's)")
	f.BoolVarP(&allNamespaces, "all-namespaces", "A", false, "audit every namespace and the cluster-scoped objects")
	f.BoolVar(&secrets, "secrets", false, "also read the Secrets of the audited namespaces (Bifrost configs kept in Secrets); values are never printed")
	f.StringArrayVar(&kinds, "kind", nil, "another kind to list for your Rego policies, as KIND.GROUP (Ingress.networking.k8s.io; KIND alone for the core group; repeatable)")
	f.StringVarP(&format, "format", "f", "text", "output format: "+lint.FormatNames()+"|"+policyReportFormat)
	f.StringVar(&api, "report-api", string(audit.WGPolicy), "API of --format policyreport: "+string(audit.WGPolicy)+" or "+string(audit.OpenReports))
	f.StringVar(&failOn, "fail-on", "error", "exit 1 when a finding is at or above this severity: error|warning|info|none")
	f.StringVarP(&configPath, "config", "c", "", "config file (default ./"+lint.DefaultConfigFile+" when present)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no summary or notices on stderr (notices of an incomplete audit are still printed)")
	f.StringArrayVarP(&pf.paths, "policy", "p", nil, "Rego policy file or directory to add (repeatable)")
	f.StringArrayVar(&pf.namespaces, "policy-package", nil, "package whose deny/violation/warn rules run (repeatable; default main)")
	f.BoolVar(&pf.allNamespaces, "all-policy-packages", false, "run the rules of every policy package")
	f.BoolVar(&pf.noBuiltin, "no-builtin-policies", false, "leave out gjallar's built-in Rego policies")
	pf.register(f, false)
	f.Int64Var(&pageSize, "page-size", 500, "objects per LIST request")
	f.DurationVar(&retryFor, "retry-for", time.Minute, "how long to retry a failing API request before reporting its kind unread")
	return cmd
}

// parseKinds reads KIND.GROUP (or KIND for the core group).
func parseKinds(specs []string) ([]schema.GroupKind, error) {
	var out []schema.GroupKind
	for _, s := range specs {
		kind, group, _ := strings.Cut(s, ".")
		if kind == "" || strings.ToUpper(kind[:1]) != kind[:1] {
			return nil, fmt.Errorf("--kind %q: want KIND.GROUP with the kind as written in manifests (Ingress.networking.k8s.io)", s)
		}
		out = append(out, schema.GroupKind{Group: group, Kind: kind})
	}
	return out, nil
}

// reportAPIFlag parses --audit-report-api as it is given.
type reportAPIFlag struct{ api *audit.ReportAPI }

func (f reportAPIFlag) String() string {
	if f.api == nil || *f.api == "" {
		return string(audit.WGPolicy)
	}
	return string(*f.api)
}

func (f reportAPIFlag) Set(s string) error {
	api, err := audit.ParseReportAPI(s)
	if err == nil {
		*f.api = api
	}
	return err
}

func (reportAPIFlag) Type() string { return "api" }
