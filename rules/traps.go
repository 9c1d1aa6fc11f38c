package rules

// trapRules catch what the runbook itself gets wrong or leaves to luck;
// Builtin lists them after the core rules.
var trapRules = []*Rule{
	HTTPRouteReferenceGrant,
	HTTPRouteBackendExists,
	RWOPVCMultiAttach,
	BifrostOtelCollectorURL,
	LangfuseOtelHeaders,
	KgatewayGatewayClass,
	LangfuseSubpathRoutes,
	BifrostKeys,
	BifrostAppDir,
	AiderModelPrefix,
}
