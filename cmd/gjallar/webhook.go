package main

import (
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/gjallar-dev/gjallar/audit"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/webhook"
)

// policyTimeout bounds one object's Rego evaluation at admission, well
// inside the webhook's timeoutSeconds.
const policyTimeout = 2 * time.Second

func newWebhookCommand() *cobra.Command {
	var (
		o           webhook.Options
		kubeconfig  string
		devLogs     bool
		policyPaths []string
		packages    []string
		allPackages bool
		noBuiltin   bool
		regoVersion string
	)
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Run the validating and mutating admission webhook and the restart controller",
		Long: "Serve admission webhooks that run the same rules as gjallar lint against the\n" +
			"cluster (error findings deny, warnings are returned as admission warnings), stamp\n" +
			"gjallar.dev/config-hash on workloads, and roll workloads when the ConfigMaps they read\n" +
			"change. Runs in the cluster (see charts/gjallar) or locally against a kubeconfig.\n" +
			"The config file and the policy directories are reloaded when they change.\n\n" +
			"The leader also audits everything in its cache on start, every --audit-interval and\n" +
			"soon after objects change, and keeps a PolicyReport per namespace with findings\n" +
			"(see gjallar audit for the same check from outside the cluster).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("GOGC") == "" {
				// The cluster cache is most of the heap and every request
				// allocates afresh, so the default collector marks the whole
				// cache about once a second at 1,000 requests/s, and requests
				// that arrive meanwhile wait: p99 ~5 ms instead of ~3 ms
				// (BENCHMARKS.md). The chart sets GOMEMLIMIT to the
				// container's limit, which still bounds the heap.
				debug.SetGCPercent(200)
			}
			ctrl.SetLogger(zap.New(zap.UseDevMode(devLogs)))
			if kubeconfig != "" {
				cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
				if err != nil {
					return usageErr(err)
				}
				if cfg.QPS == 0 {
					// As ctrl.GetConfig (in the cluster): no client-side rate
					// limit, the API server's priority and fairness decides.
					// client-go's default of 5 reads/s made the mutating
					// webhook's live ConfigMap reads queue for seconds under
					// load, holding every connection (BENCHMARKS.md).
					cfg.QPS = -1
				}
				o.RestConfig = cfg
			}
			if o.ShutdownDelay == 0 {
				o.ShutdownDelay = -1 // asked for no delay (Options reads 0 as the default)
			}
			pf := policyFlags{paths: policyPaths, namespaces: packages, allNamespaces: allPackages, noBuiltin: noBuiltin, regoVersion: regoVersion}
			if _, err := pf.options(nil, nil); err != nil {
				return usageErr(err)
			}
			o.Extensions = func(cfg *rules.Config) ([]rules.Extension, error) {
				popts, err := pf.options(pf.paths, cfg)
				if err != nil {
					return nil, err
				}
				popts.Timeout = policyTimeout
				popts.NoNetwork = true
				set, err := policies.Load(popts)
				if err != nil {
					return nil, err
				}
				return []rules.Extension{set}, nil
			}
			if len(policyPaths) > 0 {
				o.ExtensionsStamp = func() string { return policies.Stamp(policyPaths) }
			}
			return webhook.Run(ctrl.SetupSignalHandler(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)")
	f.StringVarP(&o.ConfigFile, "config", "c", "", "the .gjallar.yaml to load; reloaded when it changes")
	f.DurationVar(&o.ReloadInterval, "reload-interval", 0, "how often to check the config and policies for changes (default 10s)")
	f.StringArrayVarP(&policyPaths, "policy", "p", nil, "Rego policy file or directory to add (repeatable); reloaded when it changes")
	f.StringArrayVar(&packages, "policy-package", nil, "package whose deny/violation/warn rules run (repeatable; default main)")
	f.BoolVar(&allPackages, "all-policy-packages", false, "run the rules of every policy package")
	f.BoolVar(&noBuiltin, "no-builtin-policies", false, "leave out gjallar's built-in Rego policies")
	f.StringVar(&regoVersion, "rego-version", "v1", "Rego syntax of your policies: v1 or v0")
	f.StringVar(&o.Host, "host", "", "address to serve admission requests on (default all)")
	f.IntVar(&o.Port, "port", 9443, "port to serve admission requests on")
	f.StringVar(&o.CertDir, "cert-dir", "", "directory holding tls.crt and tls.key")
	f.BoolVar(&o.ManageCerts, "manage-certs", true, "issue and rotate the serving certificate and inject its CA into the webhook configurations (off with cert-manager)")
	f.StringVar(&o.CertSecret, "cert-secret", "gjallar-webhook-cert", "Secret holding the managed certificate")
	f.StringVar(&o.Namespace, "namespace", "gjallar-system", "namespace gjallar runs in (certificate Secret, leader election)")
	f.StringVar(&o.ServiceName, "service-name", "gjallar", "Service in front of the webhook (the certificate's DNS name)")
	f.StringSliceVar(&o.ExtraDNSNames, "extra-dns-names", nil, "more DNS names for the managed certificate (e.g. localhost when running locally)")
	f.StringSliceVar(&o.ExcludedNamespaces, "excluded-namespaces", nil, "namespaces the restart controller leaves alone, besides kube-system and --namespace (as the webhooks' namespaceSelector)")
	f.StringVar(&o.ValidatingName, "validating-webhook", "gjallar", "ValidatingWebhookConfiguration to inject the CA into")
	f.StringVar(&o.MutatingName, "mutating-webhook", "gjallar", "MutatingWebhookConfiguration to inject the CA into")
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Prometheus metrics address (0 disables)")
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "liveness and readiness probe address")
	f.StringVar(&o.PprofAddr, "pprof-bind-address", "0", "net/http/pprof address, for profiling (0 disables; keep it on loopback)")
	f.IntVar(&o.DecodedObjects, "decoded-objects", webhook.DefaultDecodedObjects, "cached objects kept decoded for reuse across admission requests, about 10 KiB each; the rest of the cache stays compact and is decoded when read")
	f.BoolVar(&o.LeaderElect, "leader-elect", true, "elect a leader so that one replica runs the restart controller")
	f.DurationVar(&o.Lease.LeaseDuration, "leader-election-lease-duration", webhook.DefaultLeaseTiming.LeaseDuration, "how long a lease not renewed is kept from the other replicas (a killed leader is replaced within this plus the retry period)")
	f.DurationVar(&o.Lease.RenewDeadline, "leader-election-renew-deadline", webhook.DefaultLeaseTiming.RenewDeadline, "how long the leader tries to renew before it gives the lease up (it keeps serving admission)")
	f.DurationVar(&o.Lease.RetryPeriod, "leader-election-retry-period", webhook.DefaultLeaseTiming.RetryPeriod, "how often the lease is renewed or tried for")
	f.DurationVar(&o.ShutdownDelay, "shutdown-delay", webhook.DefaultShutdownDelay, "on SIGTERM, how long to keep answering after readiness fails, while endpoints are updated (0s: stop at once); the requests in flight then get --shutdown-timeout")
	f.DurationVar(&o.Limits.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight get to finish when stopping")
	f.IntVar(&o.Limits.MaxInFlight, "max-in-flight", 0, "admission requests evaluated at once; more wait up to 1s, then are refused with 429 and Retry-After (default 4 x GOMAXPROCS, at least 8)")
	f.BoolVar(&o.WatchSecrets, "watch-secrets", false, "also roll workloads when Secrets they read change (needs read access to Secrets; see the chart's secrets.access)")
	f.StringSliceVar(&o.SecretNamespaces, "secret-namespaces", nil, "with --watch-secrets, the namespaces whose Secrets may be read (default: all)")
	f.DurationVar(&o.CertTiming.CAValidity, "ca-validity", 0, "lifetime of the CA gjallar issues (default 10 years)")
	f.DurationVar(&o.CertTiming.CertValidity, "cert-validity", 0, "lifetime of the serving certificate gjallar issues (default 1 year)")
	f.DurationVar(&o.CertTiming.RenewBefore, "cert-renew-before", 0, "renew the CA and the serving certificate this long before they expire (default 90 days)")
	f.DurationVar(&o.CertTiming.CheckInterval, "cert-check-interval", 0, "how often to check whether the certificates need renewing (default 1h)")
	for _, name := range []string{"ca-validity", "cert-validity", "cert-renew-before", "cert-check-interval"} {
		f.MarkHidden(name) // for tests of rotation; the defaults suit clusters
	}
	f.BoolVar(&devLogs, "dev-logs", false, "human-readable logs instead of JSON")
	f.DurationVar(&o.Audit.Interval, "audit-interval", 5*time.Minute, "how often the leader audits the cluster cache and writes PolicyReports, besides soon after changes (0 disables)")
	f.Var(reportAPIFlag{&o.Audit.ReportAPI}, "audit-report-api", "API of the audit's reports: "+string(audit.WGPolicy)+" (default) or "+string(audit.OpenReports))
	f.Float64Var(&o.Audit.WritesPerSecond, "audit-writes-per-second", 5, "most report writes per second (bursts of 10)")
	return cmd
}
