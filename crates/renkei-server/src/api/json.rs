//! A JSON body extractor whose rejections are problem documents that say
//! where the body is wrong (line, column, field), not axum's plain text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::Error;

/// `Json<T>` with RFC 9457 rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(reject(rejection)),
        }
    }
}

fn reject(rejection: JsonRejection) -> Response {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            Error::BadRequest(format!("the JSON body does not fit: {}", e.body_text()))
                .into_response()
        }
        JsonRejection::JsonSyntaxError(e) => {
            Error::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
                .into_response()
        }
        JsonRejection::MissingJsonContentType(_) => {
            Error::BadRequest("expected a JSON body with Content-Type: application/json".to_owned())
                .into_response()
        }
        other if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            crate::Problem::new(
                other.status(),
                "the request body is larger than this server accepts (server.max_body_bytes)"
                    .to_owned(),
            )
            .into_response()
        }
        other => {
            let status = other.status();
            crate::Problem::new(status, other.body_text()).into_response()
        }
    }
}

impl<T: serde::Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
