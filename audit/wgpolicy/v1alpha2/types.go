package v1alpha2

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Summary counts a report's results by outcome.
type Summary struct {
	// Pass counts checks whose requirements were met.
	// +optional
	Pass int `json:"pass"`
	// Fail counts checks whose requirements were not met.
	// +optional
	Fail int `json:"fail"`
	// Warn counts unscored checks whose requirements were not met.
	// +optional
	Warn int `json:"warn"`
	// Error counts checks that could not be evaluated.
	// +optional
	Error int `json:"error"`
	// Skip counts checks that were not selected.
	// +optional
	Skip int `json:"skip"`
}

// Outcome is what a check concluded about its resources.
// +kubebuilder:validation:Enum=pass;fail;warn;error;skip
type Outcome string

// Outcomes gjallar writes.
const (
	Pass  Outcome = "pass"
	Fail  Outcome = "fail"
	Warn  Outcome = "warn"
	Error Outcome = "error"
	Skip  Outcome = "skip"
)

// Severity grades a result.
// +kubebuilder:validation:Enum=critical;high;low;medium;info
type Severity string

// Severities gjallar writes.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
)

// Result is one check's outcome for the resources it names.
type Result struct {
	// Source names the engine that produced the result.
	// +optional
	Source string `json:"source"`
	// Policy names the check.
	Policy string `json:"policy"`
	// Rule names a part of the policy, when it has parts.
	// +optional
	Rule string `json:"rule,omitempty"`
	// Category groups policies.
	// +optional
	Category string `json:"category,omitempty"`
	// Severity grades the result.
	// +optional
	Severity Severity `json:"severity,omitempty"`
	// Timestamp is when the result was first found.
	Timestamp metav1.Timestamp `json:"timestamp,omitempty"`
	// Result is the outcome.
	Result Outcome `json:"result,omitempty"`
	// Scored says whether the result counts toward a score.
	Scored bool `json:"scored,omitempty"`
	// Resources are the checked resources the result is about.
	// +optional
	Resources []corev1.ObjectReference `json:"resources,omitempty"`
	// ResourceSelector selects the checked resources by label, instead of
	// naming them; with neither, the result is about the report's scope.
	// +optional
	ResourceSelector *metav1.LabelSelector `json:"resourceSelector,omitempty"`
	// Message says what was found, for people.
	Message string `json:"message,omitempty"`
	// Properties carry more details as strings.
	// +optional
	Properties map[string]string `json:"properties,omitempty"`
}

// PolicyReport holds the results of checks on resources of one namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=polr
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.scope.kind`,priority=1
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.scope.name`,priority=1
// +kubebuilder:printcolumn:name="Pass",type=integer,JSONPath=`.summary.pass`
// +kubebuilder:printcolumn:name="Fail",type=integer,JSONPath=`.summary.fail`
// +kubebuilder:printcolumn:name="Warn",type=integer,JSONPath=`.summary.warn`
// +kubebuilder:printcolumn:name="Error",type=integer,JSONPath=`.summary.error`
// +kubebuilder:printcolumn:name="Skip",type=integer,JSONPath=`.summary.skip`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PolicyReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Report            `json:",inline"`
}

// ClusterPolicyReport holds the results of checks on cluster-scoped
// resources.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cpolr
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.scope.kind`,priority=1
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.scope.name`,priority=1
// +kubebuilder:printcolumn:name="Pass",type=integer,JSONPath=`.summary.pass`
// +kubebuilder:printcolumn:name="Fail",type=integer,JSONPath=`.summary.fail`
// +kubebuilder:printcolumn:name="Warn",type=integer,JSONPath=`.summary.warn`
// +kubebuilder:printcolumn:name="Error",type=integer,JSONPath=`.summary.error`
// +kubebuilder:printcolumn:name="Skip",type=integer,JSONPath=`.summary.skip`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterPolicyReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Report            `json:",inline"`
}

// Report is what both kinds hold besides their metadata.
type Report struct {
	// Scope names the one resource the report is about, when it is.
	// +optional
	Scope *corev1.ObjectReference `json:"scope,omitempty"`
	// ScopeSelector selects the resources the report is about by label;
	// set at most one of Scope and ScopeSelector.
	// +optional
	ScopeSelector *metav1.LabelSelector `json:"scopeSelector,omitempty"`
	// Summary counts the results by outcome.
	// +optional
	Summary Summary `json:"summary,omitempty"`
	// Results are the checks' outcomes.
	// +optional
	Results []Result `json:"results,omitempty"`
}
