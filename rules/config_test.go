package rules

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

type listOptions struct {
	Allowed []string `json:"allowed"`
}

func optionRule() *Rule {
	return &Rule{ID: "with-options", Severity: Error, Kinds: []schema.GroupKind{ConfigMapKind},
		Options: func() any { return &listOptions{Allowed: []string{"a"}} },
		Check:   func(*Context, *Object) {}}
}

func TestConfigDecodesOptionsPerEngine(t *testing.T) {
	cfg, err := ParseConfig(".gjallar.yaml", []byte("rules:\n  with-options:\n    severity: warning\n    options: {allowed: [a, b]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine([]*Rule{optionRule(), ParseError}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.byID["with-options"].options.(*listOptions).Allowed; strings.Join(got, ",") != "a,b" {
		t.Errorf("options = %v", got)
	}
	if e.byID["with-options"].severity != Warning {
		t.Error("severity override not applied")
	}
	fresh, _ := NewEngine([]*Rule{optionRule()}, nil)
	if got := fresh.byID["with-options"].options.(*listOptions).Allowed; len(got) != 1 {
		t.Errorf("defaults leaked between engines: %v", got)
	}
}
