//! The front page: what the platform is, and who runs each function.

use axum::Extension;
use axum::extract::State;
use maud::html;
use renkei_core::Function;

use super::layout::{Page, PageLang, page};
use crate::AppState;
use crate::access::Principal;

/// `GET /`.
pub async fn home(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(principal): Extension<Principal>,
) -> Page {
    let l = lang.lang;
    let deployment = &state.config().deployment;
    let body = html! {
        p { (l.pick(
            "renkei は、医療機関から届いた医療等情報を患者ごとに連結し、オプトアウトを尊重し、審査を経た利用者にだけ、加工した情報を安全な解析環境で提供する情報連携基盤です。",
            "renkei links the health records that providers send under one key per patient, honours patients' opt-outs, and gives only reviewed applicants de-identified data inside a secure analysis environment."
        )) }
        h2 { (l.pick("運営", "Who runs what")) }
        p { (l.pick("運営モデル", "Operating model")) ": " strong { (deployment.model) } }
        table {
            thead { tr { th { (l.pick("機能", "Function")) } th { (l.pick("運営主体", "Operator")) } } }
            tbody {
                @for f in Function::ALL {
                    tr {
                        td { (l.pick(f.label_ja(), f.as_str())) }
                        td {
                            @if let Some(op) = deployment.functions.get(&f).and_then(|name| deployment.operators.get(name)) {
                                (op.display_name)
                            }
                        }
                    }
                }
            }
        }
        h2 { (l.pick("監査ログ", "Audit log")) }
        p {
            (l.pick("記録件数", "Entries")) ": " strong { (state.audit().size()) } ". "
            (l.pick("署名付きツリーヘッドと証明は誰でも取得して検証できます: ",
                    "Anyone can fetch the signed tree head and proofs to verify it: "))
            a href="/api/v1/audit/head" { code { "/api/v1/audit/head" } }
        }
        @if principal.user().is_none() {
            p { a href="/login" { (l.pick("ログイン", "Sign in")) } }
        }
    };
    page(
        lang,
        l.pick("情報連携基盤", "Health-data linkage platform"),
        principal.user(),
        body,
    )
}
