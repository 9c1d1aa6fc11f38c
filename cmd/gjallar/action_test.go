package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gjallar-dev/gjallar/lint"
)

// actionFile is the part of a GitHub Action's metadata gjallar's action.yml
// uses; decoding rejects any other field, so a typo does not pass.
type actionFile struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Author      string            `yaml:"author"`
	Branding    map[string]string `yaml:"branding"`
	Inputs      map[string]struct {
		Description string `yaml:"description"`
		Default     string `yaml:"default"`
		Required    bool   `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Uses             string            `yaml:"uses"`
	With             map[string]string `yaml:"with"`
	Shell            string            `yaml:"shell"`
	Run              string            `yaml:"run"`
	Env              map[string]string `yaml:"env"`
	WorkingDirectory string            `yaml:"working-directory"`
}

func readAction(t *testing.T) (*actionFile, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a, string(data)
}

var (
	inputRef  = regexp.MustCompile(`\$\{\{[^}]*\binputs\.([A-Za-z0-9_-]+)`)
	stepRef   = regexp.MustCompile(`\bsteps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)`)
	flagToken = regexp.MustCompile(`(?:^|[\s(])(--[a-z][a-z-]*)`)
	pinnedUse = regexp.MustCompile(`^[\w.-]+/[\w./-]+@v\d+$`)
)

// TestActionWellFormed checks action.yml is a composite action GitHub can
// run: every run step has a shell, every action it uses is pinned to a
// major version, every input it reads is declared and every declared
// input is read, every step output it reads exists.
func TestActionWellFormed(t *testing.T) {
	a, text := readAction(t)
	if a.Name == "" || a.Description == "" || a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Fatalf("name %q, description %q, using %q, %d steps", a.Name, a.Description, a.Runs.Using, len(a.Runs.Steps))
	}
	ids := map[string]bool{}
	for i, s := range a.Runs.Steps {
		switch {
		case s.Run != "" && s.Uses != "":
			t.Errorf("step %d has both run and uses", i)
		case s.Run != "" && s.Shell == "":
			t.Errorf("step %d (%s) runs a script without a shell, which composite actions require", i, s.Name)
		case s.Uses != "" && !pinnedUse.MatchString(s.Uses):
			t.Errorf("step %d uses %q, not pinned to a major version", i, s.Uses)
		case s.Run == "" && s.Uses == "":
			t.Errorf("step %d neither runs nor uses anything", i)
		}
		if s.ID != "" {
			ids[s.ID] = true
		}
	}
	used := map[string]bool{}
	for _, m := range inputRef.FindAllStringSubmatch(text, -1) {
		used[m[1]] = true
		if _, ok := a.Inputs[m[1]]; !ok {
			t.Errorf("action.yml reads inputs.%s, which it does not declare", m[1])
		}
	}
	for name, in := range a.Inputs {
		if !used[name] {
			t.Errorf("input %s is declared but never read", name)
		}
		if in.Description == "" {
			t.Errorf("input %s has no description", name)
		}
	}
	for _, m := range stepRef.FindAllStringSubmatch(text, -1) {
		if !ids[m[1]] {
			t.Errorf("action.yml reads steps.%s.outputs.%s, but no step has id %s", m[1], m[2], m[1])
		}
	}
	if !strings.Contains(text, "go-version-file: ${{ github.action_path }}/go.mod") {
		t.Error("the Go toolchain is not taken from the action's own go.mod")
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "cmd", "gjallar", "main.go")); err != nil || !strings.Contains(text, "./cmd/gjallar") {
		t.Error("the build step does not build ./cmd/gjallar")
	}
	if def := a.Inputs["fail-on"].Default; def != "error" {
		t.Errorf("fail-on defaults to %q", def)
	}
}

// TestActionUsesOnlyLintFlags checks every flag the action's scripts pass
// is one gjallar lint defines, and every format it asks for exists.
func TestActionUsesOnlyLintFlags(t *testing.T) {
	a, _ := readAction(t)
	flags := newLintCommand().Flags()
	checked := 0
	for _, s := range a.Runs.Steps {
		if !strings.Contains(s.Run, "lint") {
			continue
		}
		for _, m := range flagToken.FindAllStringSubmatch(s.Run, -1) {
			name := strings.TrimPrefix(m[1], "--")
			if flags.Lookup(name) == nil {
				t.Errorf("step %q passes --%s, which gjallar lint does not define", s.Name, name)
			}
			checked++
		}
		for _, m := range regexp.MustCompile(`--format (\w+)`).FindAllStringSubmatch(s.Run, -1) {
			if _, ok := lint.Formats[m[1]]; !ok {
				t.Errorf("step %q asks for --format %s, which does not exist", s.Name, m[1])
			}
		}
	}
	if checked < 5 {
		t.Fatalf("found only %d flags in the action's scripts", checked)
	}
}

// TestActionLintStep runs the action's lint script with bash and the real
// binary, as the runner would: annotations on stdout, the exit status as
// a step output, a SARIF file when asked.
func TestActionLintStep(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	a, _ := readAction(t)
	var step *actionStep
	for i := range a.Runs.Steps {
		if a.Runs.Steps[i].ID == "lint" {
			step = &a.Runs.Steps[i]
		}
	}
	if step == nil {
		t.Fatal("no step with id lint")
	}
	run := func(t *testing.T, inputs map[string]string) (map[string]string, string) {
		t.Helper()
		tmp := t.TempDir()
		output := filepath.Join(tmp, "output")
		cmd := exec.Command(bash, "-e", "-c", step.Run)
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GITHUB_OUTPUT="+output, "GJALLAR="+binary)
		for k, v := range step.Env {
			if m := inputRef.FindStringSubmatch(v); m != nil {
				val, ok := inputs[m[1]]
				if !ok {
					val = a.Inputs[m[1]].Default
				}
				cmd.Env = append(cmd.Env, k+"="+val)
			}
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, io.Discard
		if err := cmd.Run(); err != nil {
			t.Fatalf("the lint step itself failed: %v\n%s", err, out.String())
		}
		data, _ := os.ReadFile(output)
		outputs := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				outputs[k] = v
			}
		}
		return outputs, out.String()
	}
	sarif := filepath.Join(t.TempDir(), "gjallar.sarif")
	outputs, stdout := run(t, map[string]string{
		"paths":        "testdata/repos/overlays\ntestdata/examples/compliant",
		"upload-sarif": "true",
		"sarif-file":   sarif,
	})
	if outputs["exit-code"] != "1" {
		t.Errorf("exit-code = %q, want 1 (the prod overlay has errors)", outputs["exit-code"])
	}
	if !strings.Contains(stdout, "::error file=testdata/repos/overlays/overlays/prod/public-service.yaml,line=7,") {
		t.Errorf("no annotation on the prod overlay's patch:\n%s", stdout)
	}
	data, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &log); err != nil || len(log.Runs) != 1 || len(log.Runs[0].Results) != 2 {
		t.Errorf("SARIF file: %v, %s", err, data)
	}
	if outputs, _ := run(t, map[string]string{"paths": "testdata/repos/overlays", "fail-on": "none"}); outputs["exit-code"] != "0" {
		t.Errorf("fail-on none: exit-code = %q", outputs["exit-code"])
	}
	if outputs, _ := run(t, map[string]string{"paths": "testdata/examples/compliant", "config": "missing.yaml"}); outputs["exit-code"] != "2" {
		t.Errorf("a missing config: exit-code = %q, want 2", outputs["exit-code"])
	}
}
