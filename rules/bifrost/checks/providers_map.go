// Package checks holds the rules that guard Bifrost: its config.json, its
// container, and the model names and URLs its clients send it.
package checks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
)

// BifrostProvidersMap catches providers written as a list.
var BifrostProvidersMap = &rules.Rule{
	ID:       "bifrost-providers-map",
	Summary:  "Bifrost providers must be an object keyed by provider name, not a list",
	Severity: rules.Error,
	Fixable:  true,
	Rationale: "Bifrost reads `providers` as an object whose keys are provider names " +
		"(`{\"openai\": {\"keys\": [...]}}`; Go map[string]ProviderConfig in maximhq/bifrost " +
		"transports/bifrost-http/lib/config.go, v1.2.0 to v1.5.11 and the v2 line). Written as a list, " +
		"decoding fails (\"failed to unmarshal config ... cannot unmarshal array\"), Bifrost exits at " +
		"startup and the pod crash-loops. `gjallar lint --fix` rewrites a list whose entries each carry " +
		"a unique `name` (or `provider`) into the object form.",
	Kinds: bifrost.ConfigKinds,
	Check: checkProvidersMap,
}

func checkProvidersMap(c *rules.Context, obj *rules.Object) {
	for _, cfg := range bifrost.Configs(obj) {
		list, ok := cfg.Root()["providers"].([]any)
		if !ok {
			continue
		}
		names, unambiguous := providerListNames(list)
		example := "openai"
		if len(names) > 0 {
			example = names[0]
		}
		f := rules.Finding{Message: fmt.Sprintf("providers is a list, so Bifrost fails to start (\"failed to unmarshal config\") and the pod crash-loops; "+
			"write it as an object keyed by provider name: {%q: {\"keys\": [...]}}", example)}
		if unambiguous && !cfg.Encoded {
			text := providersListToMap(cfg, names)
			f.Fix = &rules.Fix{
				Description: "rewrite providers as an object keyed by " + quotedList(names),
				Edits:       []rules.Edit{{Path: cfg.Path, Value: text}},
			}
		}
		c.ReportIn(cfg.JSONDoc, rules.P("providers"), f)
	}
}

// providerListNames returns each entry's provider name when the conversion
// is unambiguous: every entry an object with exactly one of "name" or
// "provider" set to a string, and no name twice.
func providerListNames(list []any) ([]string, bool) {
	names := make([]string, 0, len(list))
	seen := map[string]bool{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		name, okName := m["name"].(string)
		prov, okProv := m["provider"].(string)
		switch {
		case okName && okProv:
			return nil, false
		case okProv:
			name = prov
		case !okName:
			return nil, false
		}
		if name == "" || seen[name] {
			return nil, false
		}
		seen[name] = true
		names = append(names, name)
	}
	return names, true
}

// providersListToMap rewrites the list in the config's text, keeping every
// other byte as it was: brackets become braces, each entry gets its name as
// key, and the name member leaves the entry.
func providersListToMap(cfg *bifrost.Config, names []string) string {
	text := cfg.Text
	list := cfg.Span(rules.P("providers"))
	var edits []textEdit
	edits = append(edits, textEdit{list.Start, list.Start + 1, "{"}, textEdit{list.End - 1, list.End, "}"})
	for i, name := range names {
		elem := cfg.Span(rules.P("providers", i))
		key, _ := json.Marshal(name) // JSON quoting: strconv.Quote's \x escapes are not JSON
		edits = append(edits, textEdit{elem.Start, elem.Start, string(key) + ": "})
		member := "name"
		if cfg.Has(rules.P("providers", i, "provider")) {
			member = "provider"
		}
		edits = append(edits, removeMember(text, elem, cfg.Span(rules.P("providers", i, member))))
	}
	return applyTextEdits(text, edits)
}

// removeMember cuts one "key": value pair out of an object, with the comma
// that separates it from its neighbour.
func removeMember(text string, obj, m rules.Span) textEdit {
	after := skipJSONSpace(text, m.End)
	if after < obj.End && text[after] == ',' {
		// Not last: drop through the comma and the space before the next key.
		return textEdit{m.Key, skipJSONSpace(text, after+1), ""}
	}
	// Last member: drop the comma before it, if any.
	before := m.Key - 1
	for before > obj.Start && strings.ContainsRune(" \t\r\n", rune(text[before])) {
		before--
	}
	if text[before] == ',' {
		return textEdit{before, m.End, ""}
	}
	return textEdit{m.Key, m.End, ""}
}

func skipJSONSpace(text string, i int) int {
	for i < len(text) && strings.ContainsRune(" \t\r\n", rune(text[i])) {
		i++
	}
	return i
}

type textEdit struct {
	start, end int
	text       string
}

// applyTextEdits applies non-overlapping edits; insertions at the same
// offset keep their order.
func applyTextEdits(s string, edits []textEdit) string {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var b strings.Builder
	pos := 0
	for _, e := range edits {
		if e.start < pos {
			continue
		}
		b.WriteString(s[pos:e.start])
		b.WriteString(e.text)
		pos = e.end
	}
	b.WriteString(s[pos:])
	return b.String()
}
