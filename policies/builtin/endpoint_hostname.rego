# METADATA
# title: Gateway and route hostnames must be DNS names the company owns, not IPs or AWS-generated names
# description: >-
#   Clients that reach the stack through an IP address or an AWS-generated name
#   (*.elb.amazonaws.com, *.elb.<region>.amazonaws.com, *.cloudfront.net) break when the load
#   balancer or distribution is recreated, and a load balancer name bypasses CloudFront, WAF and
#   Shield. The runbook maps the endpoint to a company domain (api.your-company.com). List the
#   company's zones in the rule's ownedDomains option to also catch names outside them.
# custom:
#   id: endpoint-hostname
#   severity: error
package gjallar.builtin.endpoint_hostname

deny contains finding if {
	gateway_api
	input.kind == "Gateway"
	some i, listener in input.spec.listeners
	problem := hostname_problem(listener.hostname)
	finding := {
		"msg": sprintf("Gateway listener %q hostname %q %s", [listener.name, listener.hostname, problem]),
		"path": ["spec", "listeners", i, "hostname"],
	}
}

deny contains finding if {
	gateway_api
	input.kind in {"HTTPRoute", "GRPCRoute", "TLSRoute"}
	some i, hostname in input.spec.hostnames
	problem := hostname_problem(hostname)
	finding := {
		"msg": sprintf("%s hostname %q %s", [input.kind, hostname, problem]),
		"path": ["spec", "hostnames", i],
	}
}

gateway_api if startswith(input.apiVersion, "gateway.networking.k8s.io/")

owned_domains := [normalize(d) | some d in object.get(data.gjallar.options, ["endpoint-hostname", "ownedDomains"], [])]

# hostname_problem finishes the sentence about a hostname that is not a
# company DNS name; undefined for a good one.
hostname_problem(h) := msg if {
	ip_address(h)
	msg := "is an IP address: clients pinned to it break when the load balancer's addresses change, and it bypasses CloudFront, WAF and Shield; serve a DNS name the company owns (e.g. api.your-company.com) instead"
} else := msg if {
	aws_generated(h)
	msg := "is an AWS-generated name that changes when the load balancer or distribution is recreated and exposes it directly; map a DNS name the company owns (e.g. api.your-company.com) through CloudFront and use that"
} else := msg if {
	count(owned_domains) > 0
	not owned(h)
	msg := sprintf("is not under a domain the company owns (%s); use a name under one of them, or add its domain to endpoint-hostname's ownedDomains in .gjallar.yaml", [concat(", ", owned_domains)])
}

ip_address(h) if regex.match(`^[0-9]{1,3}(\.[0-9]{1,3}){3}$`, h)

ip_address(h) if contains(h, ":")

aws_generated(h) if endswith(normalize(h), ".amazonaws.com")

aws_generated(h) if endswith(normalize(h), ".cloudfront.net")

owned(h) if {
	some d in owned_domains
	name := normalize(h)
	name == d
}

owned(h) if {
	some d in owned_domains
	endswith(normalize(h), concat("", [".", d]))
}

# normalize compares names the way DNS does: no wildcard label, no trailing
# dot, any case.
normalize(name) := trim_suffix(trim_prefix(lower(name), "*."), ".")
