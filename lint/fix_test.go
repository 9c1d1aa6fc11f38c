package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/builtin"
	"github.com/gjallar-dev/gjallar/rules/rollout"
)

const bifrostCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: bifrost-config
data:
  config.json: |
    {"providers": {"openai": {"keys": [{"name": "k", "value": "env.K", "weight": 1, "models": ["*"]}]}}}
---
`

// hashOfBifrostCM is ConfigHash of bifrostCM, pinned in the rules tests.
func hashOfBifrostCM(t *testing.T) string {
	t.Helper()
	in, err := Load([]string{"-"}, strings.NewReader(bifrostCM), nil)
	if err != nil || len(in.Documents) != 1 {
		t.Fatalf("load: %v", err)
	}
	return rollout.ConfigHash([]*rules.Object{in.Documents[0].Object})
}

func deployment(templateMeta string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: bifrost
spec:
  selector:
    matchLabels: {app: bifrost}
  template:
` + templateMeta + `    spec:
      containers:
        - name: bifrost # the gateway
          image: maximhq/bifrost:v1.3.9
      volumes:
        - name: config
          configMap: {name: bifrost-config}
`
}

func runFix(t *testing.T, files map[string]string) (map[string]string, *Report, *FixResult) {
	t.Helper()
	dir := writeFiles(t, files)
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	rep, res, err := Fix(e, Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b)
	}
	// A second --fix must change nothing.
	_, res2, err := Fix(e, Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Applied != 0 {
		t.Errorf("second --fix applied %d fixes; --fix is not idempotent", res2.Applied)
	}
	return out, rep, res
}

func TestFixStampsHashWithMinimalDiff(t *testing.T) {
	h := hashOfBifrostCM(t)
	cases := []struct{ name, meta, want string }{
		{
			name: "before labels, comments kept",
			meta: "    metadata:\n      # selected by the Service\n      labels:\n        app: bifrost\n",
			want: "    metadata:\n      # selected by the Service\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\"\n      labels:\n        app: bifrost\n",
		},
		{
			name: "into existing annotations",
			meta: "    metadata:\n      annotations:\n        prometheus.io/scrape: \"true\"\n",
			want: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\"\n        prometheus.io/scrape: \"true\"\n",
		},
		{
			name: "empty flow annotations",
			meta: "    metadata:\n      labels: {app: bifrost}\n      annotations: {}\n",
			want: "    metadata:\n      labels: {app: bifrost}\n      annotations: {\"gjallar.dev/config-hash\": \"" + h + "\"}\n",
		},
		{
			name: "flow metadata",
			meta: "    metadata: {labels: {app: bifrost}}\n",
			want: "    metadata: {\"annotations\": {\"gjallar.dev/config-hash\": \"" + h + "\"}, labels: {app: bifrost}}\n",
		},
		{
			name: "null annotations",
			meta: "    metadata:\n      annotations:\n      labels: {app: bifrost}\n",
			want: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\"\n      labels: {app: bifrost}\n",
		},
		{
			name: "explicit null",
			meta: "    metadata:\n      annotations: ~ # none yet\n",
			want: "    metadata:\n      annotations: {\"gjallar.dev/config-hash\": \"" + h + "\"} # none yet\n",
		},
		{
			name: "no template metadata",
			meta: "",
			want: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\"\n",
		},
		{
			name: "stale double-quoted with comment",
			meta: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"sha256:old\" # stamped by CI\n",
			want: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\" # stamped by CI\n",
		},
		{
			name: "stale single-quoted",
			meta: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: 'sha256:it''s old'\n",
			want: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\"\n",
		},
		{
			name: "empty value",
			meta: "    metadata:\n      annotations:\n        gjallar.dev/config-hash:\n        team: ai\n",
			want: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\"\n        team: ai\n",
		},
		{
			name: "stale plain",
			meta: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: sha256:old\n",
			want: "    metadata:\n      annotations:\n        gjallar.dev/config-hash: \"" + h + "\"\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, rep, _ := runFix(t, map[string]string{"all.yaml": bifrostCM + deployment(c.meta)})
			if want := bifrostCM + deployment(c.want); out["all.yaml"] != want {
				t.Errorf("got\n%s\nwant\n%s", out["all.yaml"], want)
			}
			for _, f := range rep.Findings {
				if f.Rule == "config-rollout-hash" {
					t.Errorf("still reported after --fix: %s", f.Message)
				}
			}
		})
	}
}

func TestFixCRLFAndBOM(t *testing.T) {
	h := hashOfBifrostCM(t)
	in := "\ufeff" + strings.ReplaceAll(bifrostCM+deployment("    metadata:\n      labels: {app: b}\n"), "\n", "\r\n")
	want := "\ufeff" + strings.ReplaceAll(bifrostCM+deployment("    metadata:\n      annotations:\n        gjallar.dev/config-hash: \""+h+"\"\n      labels: {app: b}\n"), "\n", "\r\n")
	out, _, _ := runFix(t, map[string]string{"crlf.yaml": in})
	if out["crlf.yaml"] != want {
		t.Errorf("got %q\nwant %q", out["crlf.yaml"], want)
	}
}

func TestFixJSONManifest(t *testing.T) {
	h := hashOfBifrostCM(t)
	deploy := `{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b"},
  "spec": {"selector": {"matchLabels": {"app": "b"}}, "template": {"metadata": {"labels": {"app": "b"}},
    "spec": {"containers": [{"name": "b", "image": "maximhq/bifrost"}], "volumes": [{"name": "c", "configMap": {"name": "bifrost-config"}}]}}}}
`
	out, _, _ := runFix(t, map[string]string{"cm.yaml": bifrostCM, "deploy.json": deploy})
	want := strings.Replace(deploy, `"template": {"metadata": {"labels"`, `"template": {"metadata": {"annotations": {"gjallar.dev/config-hash": "`+h+`"}, "labels"`, 1)
	if out["deploy.json"] != want {
		t.Errorf("got\n%s\nwant\n%s", out["deploy.json"], want)
	}
}

func TestFixProvidersList(t *testing.T) {
	block := `apiVersion: v1
kind: ConfigMap
metadata:
  name: c
  namespace: other
data:
  config.json: |
    {
      "providers": [
        {"name": "openai", "keys": [{"name": "k", "value": "env.K", "weight": 1, "models": ["*"]}]}
      ]
    }
  other.txt: keep me
`
	oneLine := `apiVersion: v1
kind: Secret
metadata: {name: s, namespace: other}
stringData:
  config.json: '{"providers": [{"name": "openai", "keys": [{"name": "k", "value": "env.K", "weight": 1, "models": ["*"]}]}]}'
`
	standalone := "{\n  \"providers\": [\n    {\"provider\": \"anthropic\", \"keys\": [{\"name\": \"k\", \"value\": \"env.K\", \"weight\": 1, \"models\": [\"*\"]}]}\n  ]\n}\n"
	folded := strings.Replace(block, "config.json: |", "config.json: >", 1)
	out, rep, res := runFix(t, map[string]string{"block.yaml": block, "oneline.yaml": oneLine, "config.json": standalone, "folded.yaml": strings.Replace(folded, "name: c", "name: f", 1)})
	wantBlock := strings.Replace(strings.Replace(block, `"providers": [`, `"providers": {`, 1), `{"name": "openai", "keys"`, `"openai": {"keys"`, 1)
	wantBlock = strings.Replace(wantBlock, "      ]\n", "      }\n", 1)
	if out["block.yaml"] != wantBlock {
		t.Errorf("block: got\n%s\nwant\n%s", out["block.yaml"], wantBlock)
	}
	wantOne := "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: other}\nstringData:\n  config.json: \"{\\\"providers\\\": {\\\"openai\\\": {\\\"keys\\\": [{\\\"name\\\": \\\"k\\\", \\\"value\\\": \\\"env.K\\\", \\\"weight\\\": 1, \\\"models\\\": [\\\"*\\\"]}]}}}\"\n"
	if out["oneline.yaml"] != wantOne {
		t.Errorf("one line: got\n%s\nwant\n%s", out["oneline.yaml"], wantOne)
	}
	wantStandalone := "{\n  \"providers\": {\n    \"anthropic\": {\"keys\": [{\"name\": \"k\", \"value\": \"env.K\", \"weight\": 1, \"models\": [\"*\"]}]}\n  }\n}\n"
	if out["config.json"] != wantStandalone {
		t.Errorf("standalone: got\n%s\nwant\n%s", out["config.json"], wantStandalone)
	}
	// A folded scalar cannot be rewritten faithfully: reported, not touched.
	if out["folded.yaml"] != strings.Replace(folded, "name: c", "name: f", 1) {
		t.Error("folded config was modified")
	}
	if len(res.Failed) != 1 || !strings.Contains(res.Failed[0], "folded") {
		t.Errorf("failed fixes = %v", res.Failed)
	}
	n := 0
	for _, f := range rep.Findings {
		if f.Rule == "bifrost-providers-map" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d providers findings left, want only the folded one", n)
	}
}

func TestFixFollowsSymlinks(t *testing.T) {
	h := hashOfBifrostCM(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "real.yaml")
	if err := os.WriteFile(real, []byte(bifrostCM+deployment("")), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink("real.yaml", link); err != nil {
		t.Fatal(err)
	}
	e, _ := rules.NewEngine(builtin.Rules(), nil)
	if _, _, err := Fix(e, Options{Paths: []string{link}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a file")
	}
	got, _ := os.ReadFile(real)
	if !strings.Contains(string(got), h) {
		t.Error("the link's target was not fixed")
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
}
