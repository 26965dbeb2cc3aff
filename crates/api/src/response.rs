//! Response builders: JSON bodies, empty 200s and SLS error bodies.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::error::ApiError;

/// 200 with a JSON body.
pub fn json(value: &Value) -> Response<Bytes> {
    let body = serde_json::to_vec(value).expect("JSON values serialize");
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body))
        .expect("static parts")
}

/// 200 with an empty body.
pub fn empty() -> Response<Bytes> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0")
        .body(Bytes::new())
        .expect("static parts")
}

/// The SLS error body.
pub fn error(error: &ApiError) -> Response<Bytes> {
    let body = json!({"errorCode": error.code, "errorMessage": error.message});
    Response::builder()
        .status(error.status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body.to_string()))
        .expect("static parts")
}
