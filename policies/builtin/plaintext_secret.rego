# METADATA
# title: A Bifrost config in a ConfigMap must reference credentials with env.VAR, not hold them
# description: >-
#   A credential written into a Bifrost config in a ConfigMap (provider API keys and their cloud
#   key configs, encryption_key, admin and database passwords, vector store and proxy
#   credentials, virtual-key values, auth headers of the otel plugin and of MCP clients) is
#   readable by anyone who can read ConfigMaps in the namespace, and by everyone with the
#   manifest's repository. Put the value in a Secret, expose it to the Bifrost container as an
#   environment variable, and write "env.VAR_NAME" in config.json: Bifrost resolves it at startup
#   (maximhq/bifrost core/schemas/envvar.go and the fields listed in
#   transports/bifrost-http/lib/config.go at v1.5.11). Virtual-key values take no env reference at
#   v1.5.11: keep a config holding them in a Secret. Every ConfigMap key whose value is a Bifrost
#   config counts, whatever its name. Obvious placeholders (dummy, mock-key, your-api-key, <...>,
#   xxxx, API keys too short to be real) are not reported.
# custom:
#   id: plaintext-secret
#   severity: warning
package gjallar.builtin.plaintext_secret

warn contains finding if {
	input.apiVersion == "v1"
	input.kind == "ConfigMap"
	some key, text in input.data
	is_string(text)
	json.is_valid(text)
	doc := json.unmarshal(text)
	bifrost_config(doc)
	some c in credentials(doc)
	finding := {
		"msg": sprintf("ConfigMap key %q holds %s in plain text, readable by anyone who can read ConfigMaps; %s", [key, c.what, object.get(c, "fix_cm", "put it in a Secret, pass it to Bifrost as an environment variable, and write \"env.VAR_NAME\" here")]),
		"path": array.concat(["data", key], c.path),
	}
}

# A standalone config.json: gjallar passes the decoded config as input.
warn contains finding if {
	not input.kind
	bifrost_config(input)
	some c in credentials(input)
	finding := {
		"msg": sprintf("config file holds %s in plain text, so it lives in every copy of the file; %s", [c.what, object.get(c, "fix_file", "pass it to Bifrost as an environment variable and write \"env.VAR_NAME\" here")]),
		"path": c.path,
	}
}

# The signature rules/bifrost IsConfig applies: a key only a Bifrost
# config.json has, or a getbifrost.ai $schema.
bifrost_config(doc) if {
	is_object(doc)
	some k in ["providers", "config_store", "logs_store", "cluster_config"]
	k in object.keys(doc)
}

bifrost_config(doc) if contains(doc["$schema"], "getbifrost.ai")

credentials(doc) := (((key_values(doc) | key_config_secrets(doc)) | otel_headers(doc)) | setting_secrets(doc)) | (virtual_keys(doc) | mcp_headers(doc))

# Each credential names what it is, never its value: messages end up in CI
# logs and admission responses.
key_values(doc) := {c |
	some p, provider in doc.providers
	some i, key in provider.keys
	api_key(key.value)
	c := {
		"what": sprintf("the API key %q of provider %s", [object.get(key, "name", sprintf("#%d", [i])), provider_name(p, provider)]),
		"path": ["providers", p, "keys", i, "value"],
	}
}

secret_fields := {"client_secret", "auth_credentials", "secret_key", "session_token", "api_key"}

key_config_secrets(doc) := {c |
	some p, provider in doc.providers
	some i, key in provider.keys
	some section, conf in key
	endswith(section, "_key_config")
	some field in secret_fields
	literal(conf[field])
	c := {
		"what": sprintf("%s.%s of key %q of provider %s", [section, field, object.get(key, "name", sprintf("#%d", [i])), provider_name(p, provider)]),
		"path": ["providers", p, "keys", i, section, field],
	}
}

otel_headers(doc) := {c |
	some i, plugin in doc.plugins
	plugin.name == "otel"
	some at, conf in otel_configs(plugin.config)
	some header, value in conf.headers
	auth_header(header)
	literal(value)
	c := {
		"what": sprintf("the otel plugin's %s header", [header]),
		"path": array.concat(array.concat(["plugins", i, "config"], at), ["headers", header]),
	}
}

# Settings that hold a credential, by path in the config.
secret_settings := [
	{"path": ["encryption_key"], "what": "encryption_key"},
	{"path": ["auth_config", "admin_password"], "what": "the admin password (auth_config.admin_password)"},
	{"path": ["governance", "auth_config", "admin_password"], "what": "the admin password (governance.auth_config.admin_password)"},
	{"path": ["config_store", "config", "password"], "what": "the config store's database password"},
	{"path": ["logs_store", "config", "password"], "what": "the logs store's database password"},
	{"path": ["vector_store", "config", "password"], "what": "the vector store's password"},
	{"path": ["vector_store", "config", "api_key"], "what": "the vector store's API key"},
	{"path": ["proxy_config", "password"], "what": "the proxy password"},
]

setting_secrets(doc) := {c |
	some s in secret_settings
	value := object.get(doc, s.path, null)
	literal(value)
	c := {"what": s.what, "path": s.path}
}

# Virtual-key values: transports/bifrost-http lib at v1.5.11 reads them as
# plain strings, while Bifrost's own example configs write env.VAR for them;
# the advice covers both.
virtual_keys(doc) := {c |
	some i, vk in doc.governance.virtual_keys
	api_key(vk.value)
	c := {
		"what": sprintf("the value of virtual key %q", [object.get(vk, "name", object.get(vk, "id", sprintf("#%d", [i])))]),
		"path": ["governance", "virtual_keys", i, "value"],
		"fix_cm": "keep the config in a Secret, or write \"env.VAR_NAME\" where your Bifrost release reads virtual-key values from the environment",
		"fix_file": "write \"env.VAR_NAME\" where your Bifrost release reads virtual-key values from the environment, or keep the file out of shared copies",
	}
}

mcp_headers(doc) := {c |
	some i, client in doc.mcp.client_configs
	some header, value in client.headers
	auth_header(header)
	literal(value)
	c := {
		"what": sprintf("the %s header of MCP client %q", [header, object.get(client, "name", sprintf("#%d", [i]))]),
		"path": ["mcp", "client_configs", i, "headers", header],
	}
}

auth_headers := {"authorization", "proxy-authorization", "x-api-key", "api-key", "apikey", "x-auth-token"}

auth_header(h) if lower(h) in auth_headers

auth_header(h) if regex.match(`(?i)(token|secret|api[-_]?key)`, h)

# otel_configs maps where each otel config sits (relative to the plugin's
# config) to the config: the config itself, or each of its profiles.
otel_configs(conf) := {[]: conf} if not conf.profiles

otel_configs(conf) := {["profiles", j]: profile | some j, profile in conf.profiles} if conf.profiles

provider_name(p, _) := p if is_string(p)

provider_name(p, provider) := object.get(provider, "name", sprintf("#%d", [p])) if is_number(p)

# api_key holds for a literal long enough to be a real API key: provider
# keys run to 20 characters and more (an AWS access key is 20), so "sk-123"
# in an example is a placeholder.
api_key(v) if {
	literal(v)
	count(trim_space(text_of(v))) >= 16
}

text_of(v) := v if is_string(v)

text_of(v) := v.value if is_object(v)

# literal holds for a value that is a credential written out: not a
# reference, not empty, not a placeholder. Bifrost's structured form
# ({"value": ..., "from_env": true}) is read through its value.
literal(v) if {
	is_string(v)
	credential_text(v)
}

literal(v) if {
	is_object(v)
	not v.from_env
	not v.type in {"env", "vault"}
	is_string(v.value)
	credential_text(v.value)
}

credential_text(s) if {
	t := trim_space(s)
	t != ""
	not reference(t)
	not placeholder(t)
}

reference(s) if startswith(s, "env.")

reference(s) if startswith(s, "vault.")

placeholders := {
	"dummy", "empty", "none", "null", "n/a", "na", "placeholder", "changeme", "change-me",
	"changeit", "todo", "tbd", "fake", "test", "unused", "not-needed", "not-used", "no-key",
	"nokey", "sk-no-key-required", "your-api-key", "api-key", "secret",
}

placeholder(s) if lower(s) in placeholders

# Templates: <BASE64(pk:sk)>, ${VAR}, {{ .Values.key }}.
placeholder(s) if regex.match(`<[^<>]+>|\$\{[^}]+\}|\{\{.*\}\}`, s)

# Repeated filler: xxxx, ****, ....
placeholder(s) if regex.match(`^[xX*.#_-]+$`, s)

# Example values: sk-dummy-..., mock-key, your-secret-key, CHANGE_ME, a run
# of xxxx.
placeholder(s) if regex.match(`(?i)dummy|mock|example|sample|fake|placeholder|your[-_]|replace[-_]?me|change[-_]?me|xxxx|\*\*\*\*`, s)

# A filler tail: vk-openai-yyyyyyyy.
placeholder(s) if {
	parts := split(s, "-")
	tail := parts[count(parts) - 1]
	count(tail) >= 6
	count({c | some c in split(tail, "")}) == 1
}
