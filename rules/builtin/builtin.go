// Package builtin is the registry of gjallar's built-in rules: the one list
// that `gjallar rules`, the README table, lint and the webhook read. The
// rules themselves live with the system they guard (bifrost/checks,
// gateway/checks, aws/checks, langfuse/checks, kube/checks); a new rule is
// added there and listed here.
package builtin

import (
	"github.com/gjallar-dev/gjallar/rules"
	"github.com/gjallar-dev/gjallar/rules/aider"
	awschecks "github.com/gjallar-dev/gjallar/rules/aws/checks"
	"github.com/gjallar-dev/gjallar/rules/bifrost"
	bifrostchecks "github.com/gjallar-dev/gjallar/rules/bifrost/checks"
	gatewaychecks "github.com/gjallar-dev/gjallar/rules/gateway/checks"
	kubechecks "github.com/gjallar-dev/gjallar/rules/kube/checks"
	langfusechecks "github.com/gjallar-dev/gjallar/rules/langfuse/checks"
)

// Rules returns the built-in rules in the order they are documented: the
// core rules, those for the runbook's own traps, then those for the
// failures users of the stack report upstream.
func Rules() []*rules.Rule {
	return []*rules.Rule{
		bifrostchecks.BifrostProvidersMap,
		bifrostchecks.BifrostOtelTraceType,
		bifrostchecks.BifrostFSGroup,
		awschecks.PublicNLBCloudFront,
		bifrostchecks.ModelProviderPrefix,
		kubechecks.ConfigRolloutHash,
		bifrostchecks.BifrostConfigSchema,
		rules.ParseError,

		gatewaychecks.HTTPRouteReferenceGrant,
		gatewaychecks.HTTPRouteBackendExists,
		kubechecks.RWOPVCMultiAttach,
		bifrostchecks.BifrostOtelCollectorURL,
		langfusechecks.LangfuseOtelHeaders,
		gatewaychecks.KgatewayGatewayClass,
		langfusechecks.LangfuseSubpathRoutes,
		bifrostchecks.BifrostKeys,
		bifrostchecks.BifrostAppDir,
		bifrostchecks.AiderModelPrefix,
		bifrostchecks.BifrostImageArgs,

		bifrostchecks.BifrostPrivateNetwork,
		bifrostchecks.BifrostBaseURLPath,
		bifrostchecks.BifrostEnvRefs,
		bifrostchecks.BifrostServedModel,
		bifrostchecks.BifrostRunAsNonRoot,
		bifrostchecks.BifrostSQLiteReplicas,
		awschecks.CloudFrontPrefixListQuota,
		langfusechecks.LangfuseNextAuthURL,
	}
}

// Files are the kinds of standalone files (not Kubernetes objects) the
// built-in rules read: a Bifrost config.json, an Aider config.
var Files = []*rules.FileKind{bifrost.ConfigFile, aider.ConfigFile}
