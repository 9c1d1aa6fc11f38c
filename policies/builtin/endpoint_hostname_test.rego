package gjallar.builtin.endpoint_hostname_test

import data.gjallar.builtin.endpoint_hostname.deny

gateway(hostname) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "Gateway",
	"metadata": {"name": "edge", "namespace": "ai-gateway"},
	"spec": {"listeners": [{"name": "https", "port": 443, "protocol": "HTTPS", "hostname": hostname}]},
}

route(hostnames) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "HTTPRoute",
	"metadata": {"name": "bifrost", "namespace": "ai-gateway"},
	"spec": {"hostnames": hostnames},
}

test_company_name_passes if {
	count(deny) == 0 with input as gateway("api.example.com")
}

test_listener_without_hostname_passes if {
	count(deny) == 0 with input as {
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind": "Gateway",
		"spec": {"listeners": [{"name": "http", "port": 80}]},
	}
}

test_ipv4_denied if {
	some f in deny with input as gateway("203.0.113.10")
	contains(f.msg, "is an IP address")
	f.path == ["spec", "listeners", 0, "hostname"]
}

test_ipv6_denied if {
	some f in deny with input as route(["2001:db8::1"])
	contains(f.msg, "is an IP address")
}

test_elb_names_denied if {
	every h in [
		"k8s-aigatewa-unified-0123456789.elb.us-east-1.amazonaws.com",
		"internal-a1b2c3.elb.amazonaws.com",
		"*.elb.eu-west-1.amazonaws.com",
		"d111111abcdef8.cloudfront.net",
	] {
		some f in deny with input as route([h])
		contains(f.msg, "AWS-generated")
	}
}

test_route_path_points_at_the_hostname if {
	some f in deny with input as route(["api.example.com", "10.1.2.3"])
	f.path == ["spec", "hostnames", 1]
}

test_other_api_groups_ignored if {
	count(deny) == 0 with input as {"apiVersion": "v1", "kind": "Gateway", "spec": {"listeners": [{"hostname": "10.0.0.1"}]}}
}

owned := {"endpoint-hostname": {"ownedDomains": ["example.com", "Corp.Example.NET."]}}

test_owned_domains_accept_names_under_them if {
	every h in ["example.com", "api.example.com", "*.llm.example.com", "API.corp.example.net"] {
		count(deny) == 0 with input as route([h]) with data.gjallar.options as owned
	}
}

test_owned_domains_reject_others if {
	every h in ["api.example.org", "notexample.com", "example.com.evil.io"] {
		some f in deny with input as route([h]) with data.gjallar.options as owned
		contains(f.msg, "is not under a domain the company owns (example.com, corp.example.net)")
	}
}

test_without_owned_domains_any_dns_name_passes if {
	count(deny) == 0 with input as route(["api.example.org"])
}
