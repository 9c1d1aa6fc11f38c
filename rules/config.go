package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Config is the .gjallar.yaml file: per-rule settings and paths to skip.
// The same file configures `gjallar lint` and the webhook.
type Config struct {
	// Name is where the config came from, for error messages.
	Name   string                `yaml:"-"`
	Rules  map[string]RuleConfig `yaml:"rules"`
	Ignore []string              `yaml:"ignore"`
	// Charts says how `gjallar lint` renders the Helm charts it finds; the
	// lint door decodes it and the engine never reads it.
	Charts yaml.Node `yaml:"charts"`
}

// RuleConfig overrides one rule.
type RuleConfig struct {
	Disabled bool      `yaml:"disabled"`
	Severity string    `yaml:"severity"`
	Options  yaml.Node `yaml:"options"`
	line     int
}

// ParseConfig reads a config file's contents; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	cfg := &Config{Name: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil // an empty file configures nothing
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cfg.Name = name
	// Remember each rule entry's line for errors found later, when the
	// engine knows which rules exist.
	if root := mappingValue(&doc, "rules"); root != nil {
		for i := 0; i+1 < len(root.Content); i += 2 {
			id := root.Content[i].Value
			rc := cfg.Rules[id]
			rc.line = root.Content[i].Line
			cfg.Rules[id] = rc
		}
	}
	return cfg, nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (c *Config) where(line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", c.Name, line)
	}
	return c.Name
}

func (c *Config) apply(e *Engine) error {
	for _, id := range slices.Sorted(maps.Keys(c.Rules)) {
		rc := c.Rules[id]
		b, ok := e.byID[id]
		if !ok {
			return fmt.Errorf("%s: unknown rule %q (gjallar rules lists them)", c.where(rc.line), id)
		}
		b.disabled = rc.Disabled
		if rc.Severity != "" {
			if strings.EqualFold(rc.Severity, "off") {
				b.disabled = true
			} else {
				s, err := ParseSeverity(rc.Severity)
				if err != nil {
					return fmt.Errorf("%s: rule %s: %w", c.where(rc.line), id, err)
				}
				b.severity = s
			}
		}
		if rc.Options.Kind == 0 {
			continue
		}
		if b.options == nil {
			return fmt.Errorf("%s: rule %s takes no options", c.where(rc.Options.Line), id)
		}
		if err := decodeOptions(&rc.Options, b.options); err != nil {
			return fmt.Errorf("%s: rule %s options: %w", c.where(rc.Options.Line), id, err)
		}
	}
	return nil
}

// DecodeOptions decodes a rule's options from the config into the
// options struct, strictly, as the engine does when it validates them.
func (rc RuleConfig) DecodeOptions(into any) error { return decodeOptions(&rc.Options, into) }

// decodeOptions turns YAML options into the rule's options struct through
// JSON, so option structs only need json tags and unknown keys are caught.
func decodeOptions(n *yaml.Node, into any) error {
	var raw any
	if err := n.Decode(&raw); err != nil {
		return err
	}
	js, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
