package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// Options configures `gjallar webhook`.
type Options struct {
	// RestConfig reaches the API server; nil means the usual lookup
	// (--kubeconfig, KUBECONFIG, in-cluster).
	RestConfig *rest.Config

	// ConfigFile is the .gjallar.yaml to load and watch; empty for none.
	ConfigFile     string
	ReloadInterval time.Duration
	// Extensions builds the rule extensions (Rego policies) anew on each
	// reload, with the config just loaded; nil for none.
	Extensions func(*rules.Config) ([]rules.Extension, error)
	// ExtensionsStamp tells whether the extensions' sources changed (a hash
	// of the policy files, say); reloads rebuild them only then.
	ExtensionsStamp func() string

	Host    string
	Port    int
	CertDir string
	// ManageCerts makes gjallar issue and rotate its own serving
	// certificate (stored in CertSecret) and inject the CA into its webhook
	// configurations. Off when cert-manager provides the certificate.
	ManageCerts   bool
	CertSecret    string
	Namespace     string
	ServiceName   string
	ExtraDNSNames []string
	// ExcludedNamespaces are left alone by the restart controller, like the
	// webhooks' namespaceSelector; kube-system and Namespace always are.
	ExcludedNamespaces []string
	ValidatingName     string
	MutatingName       string
	MetricsAddr        string
	ProbeAddr          string
	// PprofAddr serves net/http/pprof, for profiling under load; empty or
	// "0" serves nothing.
	PprofAddr       string
	LeaderElect     bool
	LeaderElectName string
	// Lease is the leader election's timing (leader.go).
	Lease LeaseTiming

	// ShutdownDelay is how long a stopping replica keeps answering after
	// it stops being ready (shutdown.go); 0 means DefaultShutdownDelay,
	// negative none.
	ShutdownDelay time.Duration
	// Limits bound the admission server's work and connections (serve.go).
	Limits ServerLimits
	// CertTiming sets the managed certificates' lifetimes (certs.go).
	CertTiming CertTiming

	// WatchSecrets makes the restart controller roll workloads when the
	// Secrets they read change (secrets.go), reading Secrets in
	// SecretNamespaces, or everywhere when empty.
	WatchSecrets     bool
	SecretNamespaces []string

	// DecodedObjects bounds how many cached objects are kept decoded for
	// reuse across requests (0: DefaultDecodedObjects).
	DecodedObjects int

	// OnIndex, if set, receives the cluster index once it exists: for
	// embedding gjallar, and for tests that wait for the cache.
	OnIndex func(*ClusterIndex)

	// Audit configures the leader's background audit (audit.go).
	Audit AuditOptions
}

// Defaults fills unset options.
func (o *Options) Defaults() {
	if o.Port == 0 {
		o.Port = 9443
	}
	if o.CertDir == "" {
		o.CertDir = filepath.Join(os.TempDir(), "gjallar-certs")
	}
	if o.ReloadInterval == 0 {
		o.ReloadInterval = 10 * time.Second
	}
	if o.Namespace == "" {
		o.Namespace = "gjallar-system"
	}
	if o.ServiceName == "" {
		o.ServiceName = "gjallar"
	}
	if o.CertSecret == "" {
		o.CertSecret = "gjallar-webhook-cert"
	}
	if o.ValidatingName == "" {
		o.ValidatingName = "gjallar"
	}
	if o.MutatingName == "" {
		o.MutatingName = "gjallar"
	}
	if o.LeaderElectName == "" {
		o.LeaderElectName = "gjallar-restart-controller"
	}
	if o.ShutdownDelay == 0 {
		o.ShutdownDelay = DefaultShutdownDelay
	}
	o.Lease.defaults()
	o.CertTiming.defaults()
}

// Run starts the webhook, the restart controller and the certificate
// rotation, and blocks until ctx ends.
func Run(ctx context.Context, o Options) error {
	o.Defaults()
	logger := log.FromContext(ctx).WithName("gjallar")
	cfg := o.RestConfig
	if cfg == nil {
		var err error
		if cfg, err = ctrl.GetConfig(); err != nil {
			return err
		}
	}
	engines, configText, err := loadEngine(o)
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress: o.ProbeAddr,
		PprofBindAddress:       o.PprofAddr,
		// Leader election is leaderTerms' (leader.go): losing the lease must
		// not stop the webhook server.
		LeaderElection: false,
		// The admission server waits for its requests in flight itself
		// (serve.go); this bounds the rest.
		GracefulShutdownTimeout: ptr.To(o.Limits.ShutdownTimeout + 5*time.Second),
		Cache:                   CacheOptions(),
	})
	if err != nil {
		return err
	}
	index, missing, err := NewClusterIndex(ctx, mgr.GetCache(), mgr.GetRESTMapper(), IndexedKinds, o.DecodedObjects)
	if err != nil {
		return err
	}
	for _, gk := range missing {
		logger.Info("kind not served by the cluster; rules that look it up see none", "kind", gk.String())
	}
	servedCache.index.Store(index)
	if o.OnIndex != nil {
		o.OnIndex(index)
	}
	engines.Warm() // so the first admission request does not compile the schema
	holder := NewEngineHolder(engines)
	restart := &RestartController{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Index: index,
		Engines: holder, Recorder: mgr.GetEventRecorder("gjallar"),
		ExcludedNamespaces: append([]string{"kube-system", o.Namespace}, o.ExcludedNamespaces...),
	}
	mutator := &Mutator{Engines: holder, Index: index, Live: mgr.GetAPIReader()}
	if o.WatchSecrets {
		secrets, err := NewSecretWatch(cfg, cache.Options{Scheme: scheme, Mapper: mgr.GetRESTMapper()}, mgr.GetAPIReader(), o.SecretNamespaces)
		if err != nil {
			return err
		}
		if err := secrets.Prepare(ctx); err != nil {
			return err
		}
		if err := mgr.Add(secrets.Cache); err != nil {
			return err
		}
		restart.Secrets, mutator.Secrets = secrets, secrets
	}
	leaderWorks := []leaderWork{func(ctx context.Context) error { return restart.RunTerm(ctx, mgr.GetCache()) }}
	bg, err := newBackgroundAudit(ctx, mgr, o, index, holder)
	if err != nil {
		return err
	}
	if bg != nil {
		leaderWorks = append(leaderWorks, bg.Start)
	}
	if err := addLeaderWork(mgr, cfg, o, logger, leaderWorks); err != nil {
		return err
	}

	certs, certsReady, err := setupCertificates(ctx, mgr, cfg, scheme, o, logger)
	if err != nil {
		return err
	}
	server := newAdmissionServer(o.Host, o.Port, certs, o.Limits, logger.WithName("server"))
	server.Register("/validate", "validate", &ctrlwebhook.Admission{Handler: &Validator{Engines: holder, Index: index, Live: mgr.GetAPIReader()}})
	server.Register("/mutate", "mutate", &ctrlwebhook.Admission{Handler: mutator})
	drain := &drainer{delay: o.ShutdownDelay, server: server, logger: logger}
	mgrCtx, stop := drain.managerContext(ctx)
	defer stop()
	// The server starts once its certificate exists; until then it is not
	// ready, so no traffic is sent to it.
	var serverErr error
	go func() {
		select {
		case <-certs.Ready():
			if err := mgr.Add(server); err != nil {
				// Never ready again: exit, so the pod restarts.
				serverErr = fmt.Errorf("starting the webhook server: %w", err)
				stop()
			}
		case <-mgrCtx.Done():
		}
	}()
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	checks := map[string]healthz.Checker{
		"certificates": func(*http.Request) error {
			for _, ch := range certsReady {
				select {
				case <-ch:
				default:
					return errors.New("serving certificate not ready")
				}
			}
			return nil
		},
		"cache": func(r *http.Request) error {
			c, cancel := context.WithTimeout(r.Context(), time.Second)
			defer cancel()
			if !mgr.GetCache().WaitForCacheSync(c) {
				return errors.New("cache not synced")
			}
			return nil
		},
		"webhook":  server.startedCheck,
		"shutdown": drain.readyCheck,
	}
	for name, check := range checks {
		if err := mgr.AddReadyzCheck(name, check); err != nil {
			return err
		}
	}
	go reloadLoop(mgrCtx, o, holder, configText)
	logger.Info("starting", "port", o.Port, "config", o.ConfigFile, "manageCerts", o.ManageCerts,
		"shutdownDelay", o.ShutdownDelay.String(), "watchSecrets", o.WatchSecrets)
	err = mgr.Start(mgrCtx)
	if serverErr != nil {
		return serverErr
	}
	return err
}

// ensureCertSecret creates the empty Secret the certificate rotation fills
// in, when it does not exist yet (the chart creates it; a local run may not
// have it).
func ensureCertSecret(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, o Options) error {
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.CertSecret}}
	if err := c.Create(ctx, s); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the certificate Secret %s/%s: %w", o.Namespace, o.CertSecret, err)
	}
	return nil
}

// loadEngine reads the config file (if any) and builds an engine from it
// and the extensions, returning the file's text so reloads can tell a
// change.
func loadEngine(o Options) (*rules.Engine, []byte, error) {
	var text []byte
	if o.ConfigFile != "" {
		var err error
		if text, err = os.ReadFile(o.ConfigFile); err != nil {
			return nil, nil, err
		}
	}
	e, err := buildEngine(o, text)
	return e, text, err
}

func buildEngine(o Options, text []byte) (*rules.Engine, error) {
	var cfg *rules.Config
	if o.ConfigFile != "" {
		var err error
		if cfg, err = rules.ParseConfig(o.ConfigFile, text); err != nil {
			return nil, err
		}
	}
	var exts []rules.Extension
	if o.Extensions != nil {
		var err error
		if exts, err = o.Extensions(cfg); err != nil {
			return nil, err
		}
	}
	return rules.NewEngine(builtin.Rules(), cfg, exts...)
}

// reloadLoop re-reads the mounted config every interval and swaps the
// engine when the file changed and is valid; a broken file keeps the last
// good engine. Polling, rather than inotify, works with the symlink swaps
// kubelet uses to update ConfigMap volumes.
func reloadLoop(ctx context.Context, o Options, holder *EngineHolder, last []byte) {
	if o.ConfigFile == "" && o.Extensions == nil {
		return
	}
	logger := log.FromContext(ctx).WithName("gjallar")
	t := time.NewTicker(o.ReloadInterval)
	defer t.Stop()
	lastExt := extensionsStamp(o)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var text []byte
		if o.ConfigFile != "" {
			var err error
			if text, err = os.ReadFile(o.ConfigFile); err != nil {
				// Mid-swap of a ConfigMap volume, or gone: keep what runs.
				logger.Error(err, "cannot read the config file; keeping the previous configuration")
				continue
			}
		}
		stamp := extensionsStamp(o)
		if bytes.Equal(text, last) && stamp == lastExt {
			continue
		}
		e, err := buildEngine(o, text)
		if err != nil {
			configReloads.WithLabelValues("error").Inc()
			logger.Error(err, "config reload failed; keeping the previous configuration")
			last, lastExt = text, stamp // do not retry the same broken file every tick
			continue
		}
		holder.Store(e)
		last, lastExt = text, stamp
		configReloads.WithLabelValues("ok").Inc()
		logger.Info("configuration reloaded")
	}
}

func extensionsStamp(o Options) string {
	if o.ExtensionsStamp == nil {
		return ""
	}
	return o.ExtensionsStamp()
}
