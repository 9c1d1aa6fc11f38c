package policies_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/lint"
	"github.com/gjallar-dev/gjallar/policies"
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
)

// builtinBad lists, per built-in policy, every file under
// testdata/rules/<id>/bad and the findings of that policy it must produce.
var builtinBad = map[string]map[string][]string{
	"endpoint-hostname": {
		"gateway.yaml": {
			`14 error endpoint-hostname: Gateway listener "http" hostname "k8s-aigatewa-unified-0a1b2c3d4e-0123456789abcdef.elb.us-east-1.amazonaws.com" is an AWS-generated name`,
			`18 error endpoint-hostname: Gateway listener "direct" hostname "203.0.113.25" is an IP address`,
		},
		"routes.yaml": {
			`11 error endpoint-hostname: HTTPRoute hostname "d1a2b3c4d5e6f7.cloudfront.net" is an AWS-generated name`,
			`24 error endpoint-hostname: GRPCRoute hostname "internal-ai-1234567890.elb.amazonaws.com" is an AWS-generated name`,
		},
	},
	"plaintext-secret": {
		"configmap.yaml": {
			`17 warning plaintext-secret: ConfigMap key "config.json" holds the API key "prod" of provider anthropic in plain text`,
			`29 warning plaintext-secret: ConfigMap key "config.json" holds the otel plugin's Authorization header in plain text`,
		},
		"config.json": {
			`12 warning plaintext-secret: config file holds azure_key_config.client_secret of key "eastus" of provider azure in plain text`,
		},
	},
}

func TestBuiltinFixtures(t *testing.T) {
	set := load(t, policies.Options{Builtin: true})
	for id, bad := range builtinBad {
		t.Run(id, func(t *testing.T) {
			dir := testdata("rules", id)
			if g := got(lintWith(t, set, nil, filepath.Join(dir, "good")), id); len(g) != 0 {
				t.Errorf("good fixtures: %q", g)
			}
			files, _ := os.ReadDir(filepath.Join(dir, "bad"))
			if len(files) != len(bad) {
				t.Errorf("%d bad fixtures, %d with expectations", len(files), len(bad))
			}
			for name, want := range bad {
				g := got(lintWith(t, set, nil, filepath.Join(dir, "bad", name)), id)
				if len(g) != len(want) {
					t.Errorf("%s:\n got %q\nwant %q", name, g, want)
					continue
				}
				for i := range want {
					if !strings.HasPrefix(g[i], want[i]) {
						t.Errorf("%s:\n got %q\nwant prefix %q", name, g[i], want[i])
					}
				}
			}
		})
	}
}

// TestSecretsNeverInOutput renders the plaintext-secret findings in every
// output format and looks for the credentials in them.
func TestSecretsNeverInOutput(t *testing.T) {
	secrets := []string{"sk-ant-api03-Qx7vN2kLm9Pz4RtY8wBc", "cGstbGYtOGQ3ZjJhOnNrLWxmLTRlOWIxYw==", "Zq8~vR3nT6.wY1pK4sH7jL0mX2cB5gD9fA"}
	set := load(t, policies.Options{Builtin: true})
	engine, err := rules.NewEngine(builtin.Rules(), nil, set)
	if err != nil {
		t.Fatal(err)
	}
	rep, _, err := lint.Lint(engine, lint.Options{Paths: []string{testdata("rules", "plaintext-secret", "bad")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got(rep.Findings, "plaintext-secret")) != 3 {
		t.Fatalf("findings: %q", got(rep.Findings))
	}
	for name, f := range lint.Formats {
		var buf bytes.Buffer
		if err := f.Format(&buf, rep, lint.Meta{Rules: engine.Rules(), Version: "test"}); err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(buf.String(), s) {
				t.Errorf("%s output contains the secret %q", name, s)
			}
		}
	}
}

func TestHostnameOwnedDomains(t *testing.T) {
	cfg, err := rules.ParseConfig("c.yaml", []byte("rules:\n  endpoint-hostname:\n    options:\n      ownedDomains: [llm.example.com]\n"))
	if err != nil {
		t.Fatal(err)
	}
	set := load(t, policies.Options{Builtin: true, Config: cfg})
	g := got(lintWith(t, set, cfg, testdata("rules", "endpoint-hostname", "good")), "endpoint-hostname")
	want := []string{`23 error endpoint-hostname: HTTPRoute hostname "api.example.com" is not under a domain the company owns (llm.example.com); use a name under one of them, or add its domain to endpoint-hostname's ownedDomains in .gjallar.yaml`}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("\n got %q\nwant %q", g, want)
	}
	bad, _ := rules.ParseConfig("c.yaml", []byte("rules:\n  endpoint-hostname:\n    options:\n      domains: [example.com]\n"))
	if _, err := policies.Load(policies.Options{Builtin: true, Config: bad}); err == nil || !strings.Contains(err.Error(), `unknown field "domains"`) {
		t.Errorf("unknown option: %v", err)
	}
	if _, err := rules.NewEngine(builtin.Rules(), bad, set); err == nil {
		t.Error("the engine accepted an unknown option")
	}
}

// TestBuiltinRegoTests runs the built-in policies' Rego unit tests, as
// `gjallar policy test` runs users'.
func TestBuiltinRegoTests(t *testing.T) {
	results, err := policies.Test(context.Background(), policies.Options{Builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 20 {
		t.Errorf("only %d tests ran", len(results))
	}
	for _, r := range results {
		if r.Outcome != policies.TestPass {
			t.Errorf("%s %s: %s %v\n%s", r.Where, r.Name, r.Outcome, r.Err, r.Output)
		}
	}
}

func TestUserRegoTests(t *testing.T) {
	results, err := policies.Test(context.Background(), policies.Options{Paths: []string{testdata("policies", "conftest")}})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range results {
		outcomes = append(outcomes, string(r.Outcome)+" "+r.Name)
	}
	want := []string{"PASS data.main.test_root_denied", "PASS data.main.test_missing_configmap_denied"}
	if !reflect.DeepEqual(outcomes, want) {
		t.Errorf("\n got %q\nwant %q", outcomes, want)
	}

	dir := t.TempDir()
	write(t, dir, "p.rego", "package main\n\ndeny contains \"no\" if input.x\n")
	write(t, dir, "p_test.rego", "package main\n\ntest_fails if {\n\tcount(deny) == 0 with input as {\"x\": true}\n}\n")
	results, err = policies.Test(context.Background(), policies.Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Outcome != policies.TestFail || results[0].Where != filepath.Join(dir, "p_test.rego")+":3" {
		t.Errorf("results = %+v", results)
	}
}

func TestBuiltinIDsAreTheEmbeddedOnes(t *testing.T) {
	var ids []string
	for _, r := range load(t, policies.Options{Builtin: true}).Rules() {
		ids = append(ids, r.ID)
	}
	if want := []string{"endpoint-hostname", "plaintext-secret", "policy-error"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("built-in policy rules %q, want %q", ids, want)
	}
}
