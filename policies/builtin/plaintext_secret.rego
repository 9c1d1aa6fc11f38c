# METADATA
# title: A Bifrost config in a ConfigMap must reference credentials with env.VAR, not hold them
# description: >-
#   A provider API key or an otel Authorization header written into a ConfigMap is readable by
#   anyone who can read ConfigMaps in the namespace, and by everyone with the manifest's
#   repository. Put the value in a Secret, expose it to the Bifrost container as an environment
#   variable, and write "env.VAR_NAME" in config.json; Bifrost resolves it at startup. Obvious
#   placeholders (dummy, <...>) for self-hosted backends are not reported.
# custom:
#   id: plaintext-secret
#   severity: warning
package gjallar.builtin.plaintext_secret

warn contains finding if {
	input.apiVersion == "v1"
	input.kind == "ConfigMap"
	some key, text in input.data
	endswith(lower(key), ".json")
	is_string(text)
	doc := json.unmarshal(text)
	bifrost_config(doc)
	some c in credentials(doc)
	finding := {
		"msg": sprintf("ConfigMap key %q holds %s in plain text, readable by anyone who can read ConfigMaps; put it in a Secret, pass it to Bifrost as an environment variable, and write \"env.VAR_NAME\" here", [key, c.what]),
		"path": array.concat(["data", key], c.path),
	}
}

# A standalone config.json: gjallar passes the decoded config as input.
warn contains finding if {
	not input.kind
	bifrost_config(input)
	some c in credentials(input)
	finding := {
		"msg": sprintf("config file holds %s in plain text, so it lives in every copy of the file; pass it to Bifrost as an environment variable and write \"env.VAR_NAME\" here", [c.what]),
		"path": c.path,
	}
}

bifrost_config(doc) if {
	is_object(doc)
	"providers" in object.keys(doc)
}

bifrost_config(doc) if contains(doc["$schema"], "getbifrost.ai")

credentials(doc) := key_values(doc) | key_config_secrets(doc) | otel_headers(doc)

# Each credential names what it is, never its value: messages end up in CI
# logs and admission responses.
key_values(doc) := {c |
	some p, provider in doc.providers
	some i, key in provider.keys
	literal(key.value)
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
	lower(header) == "authorization"
	literal(value)
	c := {
		"what": sprintf("the otel plugin's %s header", [header]),
		"path": array.concat(array.concat(["plugins", i, "config"], at), ["headers", header]),
	}
}

# otel_configs maps where each otel config sits (relative to the plugin's
# config) to the config: the config itself, or each of its profiles.
otel_configs(conf) := {[]: conf} if not conf.profiles

otel_configs(conf) := {["profiles", j]: profile | some j, profile in conf.profiles} if conf.profiles

provider_name(p, _) := p if is_string(p)

provider_name(p, provider) := object.get(provider, "name", sprintf("#%d", [p])) if is_number(p)

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
