package gjallar.builtin.plaintext_secret_test

import data.gjallar.builtin.plaintext_secret.warn

config_map(config) := {
	"apiVersion": "v1",
	"kind": "ConfigMap",
	"metadata": {"name": "bifrost-config", "namespace": "ai-external"},
	"data": {"config.json": json.marshal(config)},
}

provider_key(value) := {"providers": {"openai": {"keys": [{"name": "prod", "value": value, "weight": 1, "models": ["*"]}]}}}

otel(headers) := {
	"$schema": "https://www.getbifrost.ai/schema",
	"plugins": [{"enabled": true, "name": "otel", "config": {"trace_type": "otel", "headers": headers}}],
}

secret := "sk-proj-4fJ9x2QmZpL7"

test_literal_provider_key_warned if {
	some f in warn with input as config_map(provider_key(secret))
	contains(f.msg, `the API key "prod" of provider openai`)
	f.path == ["data", "config.json", "providers", "openai", "keys", 0, "value"]
	not contains(f.msg, secret)
}

test_env_reference_passes if {
	count(warn) == 0 with input as config_map(provider_key("env.OPENAI_API_KEY"))
}

test_placeholders_pass if {
	every v in ["dummy", "EMPTY", "", "<your key>", "${OPENAI_API_KEY}", "xxxxxxxx", "sk-no-key-required"] {
		count(warn) == 0 with input as config_map(provider_key(v))
	}
}

test_structured_reference_passes if {
	count(warn) == 0 with input as config_map(provider_key({"value": "env.OPENAI_API_KEY", "from_env": true, "env_var": "OPENAI_API_KEY"}))
}

test_structured_literal_warned if {
	count(warn) == 1 with input as config_map(provider_key({"value": secret, "type": "plain_text"}))
}

test_providers_list_form_warned if {
	config := {"providers": [{"name": "anthropic", "keys": [{"name": "k", "value": secret, "weight": 1}]}]}
	some f in warn with input as config_map(config)
	contains(f.msg, "of provider anthropic")
	f.path == ["data", "config.json", "providers", 0, "keys", 0, "value"]
}

test_key_config_secret_warned if {
	config := {"providers": {"bedrock": {"keys": [{
		"name": "aws",
		"weight": 1,
		"bedrock_key_config": {"access_key": "env.AWS_ACCESS_KEY_ID", "secret_key": secret, "region": "us-east-1"},
	}]}}}
	some f in warn with input as config_map(config)
	contains(f.msg, `bedrock_key_config.secret_key of key "aws" of provider bedrock`)
}

test_otel_authorization_warned if {
	some f in warn with input as config_map(otel({"Authorization": "Basic cGstbGYtYWJjOnNrLWxmLWRlZg==", "x-langfuse-ingestion-version": "4"}))
	contains(f.msg, "the otel plugin's Authorization header")
	f.path == ["data", "config.json", "plugins", 0, "config", "headers", "Authorization"]
	not contains(f.msg, "cGstbGYt")
}

test_otel_env_and_placeholder_pass if {
	every v in ["env.LANGFUSE_AUTH", "Basic <BASE64(pk:sk)>"] {
		count(warn) == 0 with input as config_map(otel({"Authorization": v}))
	}
}

test_otel_profiles_warned if {
	config := {"providers": {}, "plugins": [{"name": "otel", "config": {"profiles": [
		{"headers": {"authorization": "env.OK"}},
		{"headers": {"authorization": "Bearer abcdef123456"}},
	]}}]}
	some f in warn with input as config_map(config)
	f.path == ["data", "config.json", "plugins", 0, "config", "profiles", 1, "headers", "authorization"]
}

test_non_bifrost_json_ignored if {
	count(warn) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "data": {"settings.json": json.marshal({"keys": [{"value": secret}]})}}
}

test_invalid_json_ignored if {
	count(warn) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "data": {"config.json": `{"providers": {`}}
}

test_secret_objects_ignored if {
	count(warn) == 0 with input as {"apiVersion": "v1", "kind": "Secret", "stringData": {"config.json": json.marshal(provider_key(secret))}}
}

test_standalone_config_file_warned if {
	some f in warn with input as provider_key(secret)
	startswith(f.msg, "config file holds")
	f.path == ["providers", "openai", "keys", 0, "value"]
}

test_settings_warned if {
	config := {
		"providers": {},
		"encryption_key": "f3a9c1d7e5b24a6c8e0f1a2b3c4d5e6f",
		"auth_config": {"admin_username": "admin", "admin_password": "S3cure-Adm1n"},
		"config_store": {"enabled": true, "type": "postgres", "config": {"host": "pg", "user": "bifrost", "password": "pg-Pa55w0rd"}},
		"logs_store": {"enabled": true, "type": "postgres", "config": {"host": "pg", "user": "bifrost", "password": "env.PG_PASSWORD"}},
	}
	fs := warn with input as config_map(config)
	count(fs) == 3
	some a in fs
	a.path == ["data", "config.json", "encryption_key"]
	some b in fs
	contains(b.msg, "the admin password (auth_config.admin_password)")
	some c in fs
	contains(c.msg, "the config store's database password")
	every f in fs {
		not contains(f.msg, "S3cure")
		not contains(f.msg, "pg-Pa55")
	}
}

test_virtual_key_and_mcp_headers_warned if {
	config := {
		"providers": {},
		"governance": {"virtual_keys": [{"id": "vk-team", "name": "team", "value": "vk-9f8e7d6c5b4a3f2e1d0c"}]},
		"mcp": {"client_configs": [{"name": "tools", "headers": {"X-Api-Key": "mcp-7d6c5b4a3f2e1d0c9b8a", "Accept": "text/plain"}}]},
	}
	fs := warn with input as config_map(config)
	count(fs) == 2
	some a in fs
	contains(a.msg, `the value of virtual key "team"`)
	contains(a.msg, "keep the config in a Secret")
	some b in fs
	contains(b.msg, `the X-Api-Key header of MCP client "tools"`)
}

test_any_configmap_key_holding_a_config if {
	cm := {
		"apiVersion": "v1",
		"kind": "ConfigMap",
		"metadata": {"name": "bifrost", "namespace": "ai"},
		"data": {"config": json.marshal(provider_key(secret)), "notes": "{ not json"},
	}
	some f in warn with input as cm
	f.path == ["data", "config", "providers", "openai", "keys", 0, "value"]
}

test_example_values_pass if {
	every v in ["sk-123", "mock-key", "sk-dummy-openai-key-1-xxxxxxxxxxxxxxxxxxxx", "your-secret-key", "sk-proj-abc", "vk-openai-yyyyyyyyyyyyyyyy", "CHANGE_ME_SECURE_PASSWORD_1234"] {
		count(warn) == 0 with input as config_map(provider_key(v))
	}
}
