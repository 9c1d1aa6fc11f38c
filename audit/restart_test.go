package audit_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gjallar-dev/gjallar/audit"
	"github.com/gjallar-dev/gjallar/rules"
)

// TestAPIServerRestartsMidAudit stops the API server in the middle of an
// audit's paged LISTs, on a control plane of its own. Brought back, the
// audit waits for it and reports exactly what an undisturbed audit
// reports; left down, the audit says what it could not read, is
// incomplete, and the CLI exits 3 without writing reports.
func TestAPIServerRestartsMidAudit(t *testing.T) {
	requireEnv(t)
	dir := t.TempDir()
	env, cfg, kubeconfig, err := startControlPlane(dir, filepath.Join(dir, "apiserver"))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const ns = "restart"
	apply(t, c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: restart}\n")
	createConfigMaps(t, c, ns, 1500)
	create(t, c, badConfigMap(ns, "aaa-bad"))
	create(t, c, badConfigMap(ns, "zzz-bad"))
	e, set := newEngine(t)
	o := audit.Options{Config: cfg, Namespace: ns, PageSize: 100, PolicyKinds: set.Kinds()}
	baseline, err := audit.Run(context.Background(), e, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(baseline.Findings) < 2 || baseline.Incomplete() {
		t.Fatalf("baseline: %v, unread %v", summary(baseline.Findings), baseline.Unread)
	}

	api := env.ControlPlane.GetAPIServer()
	var once sync.Once
	restarted := make(chan error, 1)
	rec := &recorder{onList: func(resource string, n int) {
		if resource != "configmaps" || n != 5 {
			return
		}
		// Down before this page's request is sent, up again a second later.
		once.Do(func() {
			if err := api.Stop(); err != nil {
				restarted <- err
				return
			}
			go func() {
				time.Sleep(time.Second)
				restarted <- api.Start()
			}()
		})
	}}
	o.Config = rec.wrap(cfg)
	res, err := audit.Run(context.Background(), e, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-restarted; err != nil {
		t.Fatalf("restarting the API server: %v", err)
	}
	if rec.failed == 0 {
		t.Fatal("no request failed: the API server was not down during the audit")
	}
	if res.Incomplete() || res.Listed != baseline.Listed || !slices.Equal(summary(res.Findings), summary(baseline.Findings)) {
		t.Errorf("after a restart: listed %d (baseline %d), unread %v, findings\n%s\nwant\n%s", res.Listed, baseline.Listed, res.Unread,
			strings.Join(summary(res.Findings), "\n"), strings.Join(summary(baseline.Findings), "\n"))
	}

	// Down for good after the third page.
	var stopOnce sync.Once
	rec = &recorder{onList: func(resource string, n int) {
		if resource == "configmaps" && n == 3 {
			stopOnce.Do(func() { _ = api.Stop() })
		}
	}}
	o.Config, o.RetryFor = rec.wrap(cfg), 2*time.Second
	res, err = audit.Run(context.Background(), e, o)
	if err != nil {
		t.Fatal(err)
	}
	var unreadCM *audit.Unread
	for i, u := range res.Unread {
		if u.Kind == rules.ConfigMapKind {
			unreadCM = &res.Unread[i]
		}
	}
	if !res.Incomplete() || unreadCM == nil || unreadCM.Forbidden || !strings.Contains(unreadCM.Message(), "could not list configmaps (ConfigMap) in namespace restart: still failing after 2s") {
		t.Errorf("with the API server down: incomplete %v, unread %+v", res.Incomplete(), res.Unread)
	}
	rep := res.LintReport()
	errorsNoticed := 0
	for _, n := range rep.Notices {
		if n.Level == rules.Error {
			errorsNoticed++
		}
	}
	if errorsNoticed == 0 {
		t.Error("the report does not say the audit is incomplete")
	}

	cmd := exec.Command(suite.bin, "audit", "--kubeconfig", kubeconfig, "-n", ns, "--retry-for", "2s", "--format", "policyreport")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if code := exitCode(cmd.Run()); code != 3 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "nothing audited") {
		t.Errorf("CLI against a stopped API server: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
