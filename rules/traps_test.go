package rules_test

import "github.com/gjallar-dev/gjallar/rules"

// trapFixtures are the bad-fixture expectations of the trap rules, merged
// into badFixtures so TestRuleFixtures checks them like the core rules'.
var trapFixtures = map[string]map[string][]want{
	"httproute-reference-grant": {
		"missing-grant": {
			{15, rules.Error, "no ReferenceGrant in ai-external allows HTTPRoutes from ai-gateway (allow-inference there does not cover it)"},
			{22, rules.Error, "Service observability/langfuse-web crosses namespaces, but no ReferenceGrant in observability"},
		},
		"listeners": {
			{10, rules.Error, "no listener of that Gateway admits routes from observability (allowedRoutes.namespaces.from: Same)"},
			{12, rules.Error, "(allowedRoutes.namespaces.from: Same, Selector)"},
			{26, rules.Info, "Namespace team-x is not in the input"},
		},
		"elsewhere.yaml": {
			{10, rules.Info, "the Gateway is not in the input"},
			{15, rules.Info, "the ReferenceGrant may live elsewhere"},
		},
	},
	"httproute-backend-exists": {
		"missing-service.yaml": {
			{14, rules.Warning, "backendRef names Service ai-inference/vllm-svc, which does not exist"},
			{19, rules.Warning, "Service ai-inference/vllm-shadow, which does not exist"},
			{21, rules.Warning, "has no port, which a Service backend requires"},
		},
		"wrong-port": {
			{13, rules.Warning, "exposes port 80 (3000 is its targetPort; a backendRef names the Service port 80)"},
			{17, rules.Warning, "port 8080 is not a port of Service observability/langfuse-worker, which exposes ports 3030, 9090"},
			{21, rules.Warning, "which exposes no ports"},
		},
	},
	"rwo-pvc-multi-attach": {
		"runbook-replicas.yaml": {{20, rules.Error, `3 replicas share the ReadWriteOnce PVC "bifrost-data", so the pods scheduled on other nodes hang`}},
		"autoscaled":            {{20, rules.Error, "HorizontalPodAutoscaler bifrost scales this Deployment up to 4 replicas"}},
		"rolling.yaml": {
			{17, rules.Warning, "rolls out with RollingUpdate (the default strategy)"},
			{39, rules.Warning, "set strategy: {type: Recreate}"},
		},
	},
	"bifrost-otel-collector-url": {
		"base-path.yaml": {
			{18, rules.Error, `collector_url path /api/public/otel is not Langfuse's OTLP endpoint`},
			{20, rules.Error, `http collector_url has no scheme`},
			{22, rules.Error, `protocol grpc cannot reach Langfuse`},
			{24, rules.Error, `write "otel-collector.monitoring:4317"`},
			{26, rules.Error, `write "https://cloud.langfuse.com/api/public/otel/v1/traces"`},
		},
		"rewrite-misses": {{15, rules.Error, `write "http://langfuse-web.observability.svc.cluster.local:3000/api/public/otel/v1/traces"`}},
		"double-rewrite": {{15, rules.Error, "reaches Langfuse as /api/public/otel/v1/traces/v1/traces"}},
	},
	"langfuse-otel-headers": {
		"runbook-placeholder.yaml": {
			{21, rules.Error, "the Authorization header is still a placeholder"},
			{22, rules.Error, "x-langfuse-ingestion-version 5 is above 4"},
		},
		"credentials.json": {
			{11, rules.Error, "not valid base64"},
			{13, rules.Error, "without the colon between public and secret key"},
			{15, rules.Error, "keys in the wrong order"},
			{17, rules.Error, "do not decode to a Langfuse key pair"},
			{19, rules.Error, "ends in a newline or space"},
			{21, rules.Error, "not Basic auth"},
			{23, rules.Error, "has env. inside it"},
			{25, rules.Error, `lacks the "Basic " scheme`},
			{26, rules.Error, "sends no Authorization header"},
			{27, rules.Error, `x-langfuse-ingestion-version "latest" is not an integer`},
		},
	},
	"kgateway-gatewayclass": {
		"runbook.yaml": {
			{7, rules.Warning, `controllerName "kgateway.dev/kgateway-controller" is not kgateway's`},
			{9, rules.Warning, "parametersRef points at GatewayClassConfig in kgateway.dev"},
			{15, rules.Warning, "kgateway has no GatewayClassConfig kind"},
		},
		"no-namespace.yaml": {
			{7, rules.Warning, `parametersRef to GatewayParameters "kgateway-proxy" has no namespace`},
			{17, rules.Warning, `controllerName "KGateway.dev/kgateway" is not kgateway's`},
			{18, rules.Warning, "kind ConfigMap in the core group"},
		},
	},
	"langfuse-subpath-routes": {
		"rewrite-only.yaml": {{11, rules.Warning, "nothing on the same Gateway routes /_next, /api/auth to it"}},
		"other-gateway":     {{11, rules.Warning, "routes /_next, /api/auth, /api/public to it"}},
	},
	"bifrost-keys": {
		"keys.yaml": {
			{13, rules.Warning, `key "local-vllm" of provider "openai" has models: [], which allows no model`},
			{14, rules.Warning, `key "backup" of provider "openai" has weight 0`},
			{15, rules.Warning, `key 2 of provider "openai" has weight -1`},
			{18, rules.Warning, `provider "anthropic" has no keys`},
			{19, rules.Warning, `provider names are lower case: write "openrouter"`},
			{20, rules.Warning, `provider "vllm-glm" is neither a Bifrost built-in provider nor declares custom_provider_config`},
			{22, rules.Warning, `speaks the API of "vllm-compatible"`},
			{25, rules.Warning, `provider "gateway" has no keys`},
		},
	},
	"bifrost-app-dir": {
		"no-volume.yaml": {
			{15, rules.Warning, `keeps config.db in its app dir /app/data, but no volume is mounted there`},
			{31, rules.Warning, `has its app dir /data on the read-only volume "config"`},
		},
		"not-delivered": {
			{25, rules.Warning, `ConfigMap bifrost-gateway-config holds Bifrost's config.json but is neither mounted at /app/data/config.json nor copied there`},
			{56, rules.Warning, `copy it in an initContainer that mounts volumes "gateway-config" and "bifrost-data"`},
		},
	},
	"aider-model-prefix": {
		"single-prefix": {
			{4, rules.Warning, `Aider model "openai/glm-5" reaches Bifrost as "glm-5" because LiteLLM strips the first openai/`},
			{5, rules.Warning, `write "openai/openai/meta-llama/Llama-3.1-8B-Instruct"`},
		},
		"configmap.yaml":  {{7, rules.Warning, `Aider model "glm-5" has no openai/ prefix`}},
		"through-gateway": {{3, rules.Warning, `write "openai/openai/glm-5"`}},
	},
}

func init() {
	for id, fixtures := range trapFixtures {
		if badFixtures[id] != nil {
			panic("trap rule " + id + " already has fixtures in badFixtures")
		}
		badFixtures[id] = fixtures
	}
}
