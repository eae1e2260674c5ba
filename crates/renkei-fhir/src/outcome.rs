//! Validation results as FHIR OperationOutcome issues (FHIR R4 §OperationOutcome,
//! http://hl7.org/fhir/R4/operationoutcome.html).

use serde::Serialize;

use crate::path::Path;

/// How bad an issue is (value set `issue-severity`, required binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Processing could not continue at all.
    Fatal,
    /// The resource is refused.
    Error,
    /// Accepted, but something looks wrong (e.g. a code unknown to us).
    Warning,
    /// For information only.
    Information,
}

/// What kind of issue (value set `issue-type`, required binding); only the
/// codes this validator emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueType {
    /// Not well-formed, or an element of the wrong JSON shape.
    Structure,
    /// A required element is missing.
    Required,
    /// An element's value is not valid for its datatype.
    Value,
    /// Content invalid against the specification or a profile.
    Invalid,
    /// A code is not valid in its system or value set.
    CodeInvalid,
    /// A profile's invariant (a FHIRPath rule) does not hold.
    Invariant,
    /// The resource type or content is not supported.
    NotSupported,
    /// A reference could not be understood.
    Processing,
    /// An element's content is longer than the receiver accepts (a string
    /// past a configured limit).
    TooLong,
    /// Nothing wrong: an informational note.
    Informational,
}

/// One problem found in a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem.
    pub code: IssueType,
    /// Human-readable explanation.
    pub diagnostics: String,
    /// Where: a FHIRPath-style expression such as `Patient.identifier[1].system`.
    pub expression: String,
}

impl Issue {
    /// An issue at `path`.
    pub fn new(severity: Severity, code: IssueType, path: &Path, diagnostics: String) -> Self {
        Issue {
            severity,
            code,
            diagnostics,
            expression: path.as_str().to_owned(),
        }
    }
}

/// All issues found in one input (a resource or a Bundle).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Issues in the order they were found (document order).
    pub issues: Vec<Issue>,
}

impl Outcome {
    /// True when nothing of severity error or fatal was found.
    pub fn is_accepted(&self) -> bool {
        !self.issues.iter().any(|i| i.severity <= Severity::Error)
    }

    /// Issues of severity error or fatal.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.severity <= Severity::Error)
    }

    /// Issues of severity warning.
    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
    }

    /// The FHIR resource to send back to a provider.
    pub fn to_operation_outcome(&self) -> OperationOutcome {
        let issue = if self.issues.is_empty() {
            // OperationOutcome.issue is 1..*; the spec's convention for
            // success is a single informational issue.
            vec![WireIssue {
                severity: Severity::Information,
                code: IssueType::Informational,
                diagnostics: "no issues found".to_owned(),
                expression: Vec::new(),
            }]
        } else {
            self.issues
                .iter()
                .map(|i| WireIssue {
                    severity: i.severity,
                    code: i.code,
                    diagnostics: i.diagnostics.clone(),
                    expression: vec![i.expression.clone()],
                })
                .collect()
        };
        OperationOutcome {
            resource_type: "OperationOutcome",
            issue,
        }
    }

    pub(crate) fn push(&mut self, severity: Severity, code: IssueType, path: &Path, msg: String) {
        self.issues.push(Issue::new(severity, code, path, msg));
    }

    pub(crate) fn error(&mut self, code: IssueType, path: &Path, msg: String) {
        self.push(Severity::Error, code, path, msg);
    }

    pub(crate) fn warning(&mut self, code: IssueType, path: &Path, msg: String) {
        self.push(Severity::Warning, code, path, msg);
    }
}

/// An OperationOutcome resource in FHIR JSON form.
#[derive(Debug, Clone, Serialize)]
pub struct OperationOutcome {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    issue: Vec<WireIssue>,
}

#[derive(Debug, Clone, Serialize)]
struct WireIssue {
    severity: Severity,
    code: IssueType,
    diagnostics: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    expression: Vec<String>,
}
