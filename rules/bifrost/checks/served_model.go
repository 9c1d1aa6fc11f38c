package checks

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	"github.com/gjallar-dev/gjallar/rules/kube"
	"github.com/gjallar-dev/gjallar/rules/vllm"
)

// BifrostServedModel checks that a key's models are what the vLLM server
// behind its provider serves.
var BifrostServedModel = &rules.Rule{
	ID:       "bifrost-served-model",
	Summary:  "A Bifrost key's models must be names the vLLM server behind its provider serves",
	Severity: rules.Warning,
	Rationale: "Bifrost passes the request's model name, after the provider prefix, to the server at the " +
		"provider's base_url. vLLM serves a model only under the names given to --served-model-name, or, " +
		"without it, under the --model value (or the positional model of `vllm serve`), and answers any " +
		"other name with 404 (vllm-project/vllm vllm/config/model.py get_served_model_name, " +
		"vllm/entrypoints/cli/serve.py). A key listing `glm-5` in front of a vLLM started with " +
		"`--model zai-org/GLM-5` and no served name therefore routes requests that vLLM rejects. " +
		"Checked where the base_url names an in-cluster Service whose selector picks pods running " +
		"vLLM with the model named on their command line; keys whose models are [\"*\"] or empty (see " +
		"bifrost-keys) are not judged.",
	Kinds: bifrost.ConfigKinds,
	Check: checkServedModel,
}

func checkServedModel(c *rules.Context, obj *rules.Object) {
	for _, cfg := range bifrost.Configs(obj) {
		for _, pu := range cfg.ProviderURLs() {
			if pu.Path[len(pu.Path)-1] != "base_url" {
				continue
			}
			served, server := servedBehind(c.Index, obj.Namespace(), pu.URL)
			if len(served) == 0 {
				continue
			}
			for i, k := range rules.LookupList(cfg.Root(), "providers", pu.Provider, "keys") {
				models := rules.LookupList(k, "models")
				if len(models) == 0 || (len(models) == 1 && models[0] == "*") {
					continue
				}
				for j, m := range models {
					name, ok := m.(string)
					if !ok || slices.Contains(served, name) {
						continue
					}
					c.ReportIn(cfg.JSONDoc, rules.P("providers", pu.Provider, "keys", i, "models", j), rules.Finding{Message: fmt.Sprintf(
						"key lists model %q, but the vLLM server behind provider %q's base_url (%s) serves only %s, so it answers requests for %q with 404; list the served name, or start vLLM with --served-model-name %s",
						name, pu.Provider, server, quotedList(served), name, name)})
				}
			}
		}
	}
}

// servedBehind finds the vLLM pods behind an in-cluster Service URL and the
// names they all serve; nil when that cannot be told.
func servedBehind(idx rules.Index, ns, raw string) (served []string, server string) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, ""
	}
	name, svcNS, ok := kube.ServiceHost(u.Hostname(), ns)
	if !ok {
		return nil, ""
	}
	svc := idx.Get(rules.ServiceKind, svcNS, name)
	if svc == nil {
		return nil, ""
	}
	for _, w := range kube.SelectedWorkloads(idx, svc) {
		t, _ := w.PodTemplate()
		for _, ctr := range t.Containers() {
			if ctr.Init || !vllm.IsServer(ctr) {
				continue
			}
			names, ok := vllm.ServedNames(ctr)
			if !ok {
				return nil, ""
			}
			served = append(served, names...)
			server = fmt.Sprintf("%s %s/%s", w.GroupKind().Kind, w.Namespace(), w.Name())
		}
	}
	slices.Sort(served)
	return slices.Compact(served), server
}
