package checks

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	"github.com/gjallar-dev/gjallar/rules/kube"
)

// BifrostPrivateNetwork catches provider URLs Bifrost's dialer refuses.
var BifrostPrivateNetwork = &rules.Rule{
	ID:       "bifrost-private-network",
	Summary:  "A Bifrost provider whose URL is a private address needs network_config.allow_private_network (Bifrost v1.5.9+)",
	Severity: rules.Error,
	Rationale: "From v1.5.9 every Bifrost provider client (openai, vllm, ollama, sgl and the rest) dials " +
		"through a dialer that resolves the host itself and refuses private addresses, RFC 1918 " +
		"(10/8, 172.16/12, 192.168/16) and IPv6 fc00::/7, unless the provider's " +
		"`network_config.allow_private_network` is true; link-local addresses are always refused and " +
		"loopback always allowed; a proxy supplies its own dialer and skips the check (maximhq/bifrost " +
		"PR #3947 and #3991, core/providers/utils/utils.go and core/network at v1.5.11; issue #4138). " +
		"An in-cluster vLLM reached as `http://vllm.ns.svc.cluster.local:8000`, a bare Service name or " +
		"a pod IP resolves to a private address on EKS (Service ClusterIPs are RFC 1918), so every " +
		"request fails with \"connection to private IP ... is not allowed\" (a 500 from Bifrost). " +
		"CGNAT (100.64/10) is not refused at v1.5.11. Judged on base_url and on the url of vllm, ollama " +
		"and sgl key configs when the host is an IP address or an in-cluster Service name; an external " +
		"DNS name is not judged. Where the images reading the config show a release before v1.5.9 " +
		"nothing is reported; where no image is visible it is info.",
	Kinds: bifrost.ConfigKinds,
	Check: checkPrivateNetwork,
}

func checkPrivateNetwork(c *rules.Context, obj *rules.Object) {
	atLeast, known := bifrost.ReadersAtLeast(bifrost.Readers(c, obj), "1.5.9")
	if known && !atLeast {
		return
	}
	for _, cfg := range bifrost.Configs(obj) {
		for _, pu := range cfg.ProviderURLs() {
			if pu.Proxied {
				continue
			}
			what, always := privateTarget(pu.URL, obj.Namespace())
			if what == "" || (pu.AllowPrivate && !always) {
				continue
			}
			f := rules.Finding{Message: fmt.Sprintf(
				"provider %q dials %s, a private address, and Bifrost v1.5.9 and later refuse private addresses unless network_config.allow_private_network is true, so every request fails (\"connection to private IP ... is not allowed\"); add \"allow_private_network\": true to its network_config",
				pu.Provider, what)}
			if always {
				f.Message = fmt.Sprintf("provider %q dials %s, a link-local address, which Bifrost v1.5.9 and later refuse even with allow_private_network, so every request fails; reach the server through a Service instead", pu.Provider, what)
			}
			if !known {
				f.Severity = rules.Info
				f.Message = "cannot judge without the Bifrost release (no image reading this config is visible): from v1.5.9, " + f.Message
			}
			c.ReportIn(cfg.JSONDoc, pu.Path, f)
		}
	}
}

// privateTarget describes the URL's host when it is a private address
// Bifrost's dialer refuses (always: also with allow_private_network), or
// returns "".
func privateTarget(raw, ns string) (what string, always bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.HasPrefix(raw, "env.") || strings.Contains(raw, "$(") {
		return "", false
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return "", false
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		switch {
		case ip.IsLoopback():
			return "", false
		case ip.IsLinkLocalUnicast():
			return "the IP address " + host, true
		case ip.IsPrivate():
			return "the IP address " + host, false
		}
		return "", false
	}
	if name, svcNS, ok := kube.ServiceHost(host, ns); ok && net.ParseIP(host) == nil {
		return fmt.Sprintf("the in-cluster Service %s/%s (a ClusterIP, or pod IPs, in a private range on EKS)", svcNS, name), false
	}
	return "", false
}
