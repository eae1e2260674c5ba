//! The platform's functions and the operating models that assign them to
//! operators. Which operator runs which function is configuration, not code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// One function of the 情報連携基盤, each a separate part with its own store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    /// データ収集: intake of records from providers.
    Collection,
    /// 患者の識別子: linkage and the person index.
    Identity,
    /// オプトアウト管理: the opt-out registry.
    OptOut,
    /// 審査: applications, decisions and permits.
    Review,
    /// 加工: permit extracts and de-identification.
    Processing,
    /// 解析環境: per-permit workspaces.
    Analysis,
    /// 不適切な利活用の防止・セキュリティ: accounts and the audit log.
    Security,
    /// 費用負担: metering and invoices.
    Billing,
}

impl Function {
    /// Every function, in data-flow order.
    pub const ALL: [Function; 8] = [
        Function::Collection,
        Function::Identity,
        Function::OptOut,
        Function::Review,
        Function::Processing,
        Function::Analysis,
        Function::Security,
        Function::Billing,
    ];

    /// The function's name as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Collection => "collection",
            Function::Identity => "identity",
            Function::OptOut => "optout",
            Function::Review => "review",
            Function::Processing => "processing",
            Function::Analysis => "analysis",
            Function::Security => "security",
            Function::Billing => "billing",
        }
    }

    /// The function's Japanese name, as in the government's design papers.
    pub fn label_ja(self) -> &'static str {
        match self {
            Function::Collection => "データ収集",
            Function::Identity => "患者の識別子",
            Function::OptOut => "オプトアウト管理",
            Function::Review => "審査",
            Function::Processing => "加工",
            Function::Analysis => "解析環境",
            Function::Security => "セキュリティ",
            Function::Billing => "費用負担",
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Function {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Function::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| Error::unknown("function", s, &Function::ALL.map(Function::as_str)))
    }
}

/// Who may run a function under an operating model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorKind {
    /// Only the public body (公的主体).
    Public,
    /// Only certified private operators (認定事業者).
    Private,
    /// Either, depending on the arrangement.
    Either,
}

/// The four operating models being compared for the 情報連携基盤.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperatingModel {
    /// ① every function run by one public body.
    #[serde(rename = "1")]
    PublicBody,
    /// ②-1 functions shared between a public body and certified operators.
    #[serde(rename = "2-1")]
    SharedOne,
    /// ②-2 a second way of sharing them.
    #[serde(rename = "2-2")]
    SharedTwo,
    /// ③ collection, processing and opt-out public; review and analysis
    /// environments by certified private operators.
    #[serde(rename = "3")]
    PublicCorePrivateUse,
    /// ④ every function run by certified private operators.
    #[serde(rename = "4")]
    Private,
}

impl OperatingModel {
    /// Every model, in the order the design papers number them.
    pub const ALL: [OperatingModel; 5] = [
        OperatingModel::PublicBody,
        OperatingModel::SharedOne,
        OperatingModel::SharedTwo,
        OperatingModel::PublicCorePrivateUse,
        OperatingModel::Private,
    ];

    /// The model's number as written in configuration (`"2-1"`).
    pub fn as_str(self) -> &'static str {
        match self {
            OperatingModel::PublicBody => "1",
            OperatingModel::SharedOne => "2-1",
            OperatingModel::SharedTwo => "2-2",
            OperatingModel::PublicCorePrivateUse => "3",
            OperatingModel::Private => "4",
        }
    }

    /// Which kind of operator the model lets run a function. Configuration
    /// naming an operator of the wrong kind is refused at start.
    pub fn operator_kind(self, function: Function) -> OperatorKind {
        use Function::*;
        match self {
            OperatingModel::PublicBody => OperatorKind::Public,
            OperatingModel::Private => OperatorKind::Private,
            OperatingModel::SharedOne | OperatingModel::SharedTwo => OperatorKind::Either,
            OperatingModel::PublicCorePrivateUse => match function {
                Collection | Identity | OptOut | Processing => OperatorKind::Public,
                Review | Analysis => OperatorKind::Private,
                Security | Billing => OperatorKind::Either,
            },
        }
    }
}

impl fmt::Display for OperatingModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OperatingModel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        OperatingModel::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                Error::unknown(
                    "operating model",
                    s,
                    &OperatingModel::ALL.map(OperatingModel::as_str),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_three_keeps_collection_public_and_review_private() {
        let m = OperatingModel::PublicCorePrivateUse;
        assert_eq!(m.operator_kind(Function::Collection), OperatorKind::Public);
        assert_eq!(m.operator_kind(Function::Review), OperatorKind::Private);
        assert_eq!(m.operator_kind(Function::Analysis), OperatorKind::Private);
    }

    #[test]
    fn functions_and_models_parse_from_their_names() {
        for f in Function::ALL {
            assert_eq!(f.as_str().parse::<Function>().expect("own name"), f);
        }
        for m in OperatingModel::ALL {
            assert_eq!(m.as_str().parse::<OperatingModel>().expect("own name"), m);
        }
        assert!("5".parse::<OperatingModel>().is_err());
    }
}
