//! API Gateway HTTP API (payload format 2.0) events to the API's `http::Request<Bytes>`, and the
//! API's responses back, both exact.
//!
//! The functions take the event as `lambda_http` deserializes it (`ApiGatewayV2httpRequest`) but
//! convert it here rather than through `lambda_http::Request`, whose conversion rebuilds the URI
//! with a URL parser: that may re-encode or resolve the path (the SLS signature covers the path
//! and the query), and it panics on a Host that is not a valid URL host (`p1.127.0.0.1`, as the SDKs
//! send to a local server). Its response conversion decides text or binary by `content-type`
//! alone, which would decode an lz4-compressed JSON pull as text.
//!
//! Requests: the path and query exactly as API Gateway received them (`rawPath`,
//! `rawQueryString`), its headers (names lowercased, repeated headers joined with commas), the
//! cookies back in a `cookie` header, the body base64-decoded when `isBase64Encoded`.
//!
//! Responses: text only for uncompressed JSON or text that is valid UTF-8; everything else
//! (protobuf, lz4 or zstd, compressed JSON) base64-encoded with `isBase64Encoded: true`. Repeated
//! headers are joined with commas, `set-cookie` headers become `cookies`, as API Gateway expects.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Uri};
use lambda_http::Body;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use logport_api::ApiError;
use logport_api::host::ServerName;

/// The API's request for an event, or why there is none.
pub fn api_request(event: ApiGatewayV2httpRequest) -> Result<http::Request<Bytes>, ApiError> {
    let server_name = execute_api_name(&event);
    let context = &event.request_context;
    let path = match (event.raw_path.as_deref(), context.http.path.as_deref()) {
        (Some(raw), _) if !raw.is_empty() => raw,
        (_, Some(path)) if !path.is_empty() => path,
        _ => "/",
    };
    let target = match event.raw_query_string.as_deref() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    };
    let uri: Uri = target
        .parse()
        .map_err(|error| ApiError::parameter(format!("the request target is not a valid URI: {error}")))?;
    let body = match (event.body, event.is_base64_encoded) {
        (None, _) => Bytes::new(),
        (Some(text), false) => Bytes::from(text),
        (Some(text), true) => Bytes::from(
            BASE64.decode(text).map_err(|error| ApiError::body_invalid(format!("the body is not base64: {error}")))?,
        ),
    };
    let mut request = http::Request::new(body);
    *request.method_mut() = context.http.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = event.headers;
    if let Some(cookies) = event.cookies.filter(|cookies| !cookies.is_empty())
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        request.headers_mut().insert(COOKIE, value);
    }
    if let Some(name) = server_name {
        request.extensions_mut().insert(ServerName(name));
    }
    Ok(request)
}

/// API Gateway's default endpoint, `<api-id>.execute-api.<region>.amazonaws.com`, when the request
/// came through it: that name addresses Logport itself, so its first label is not a project.
fn execute_api_name(event: &ApiGatewayV2httpRequest) -> Option<String> {
    let context = &event.request_context;
    let (api_id, domain) = (context.apiid.as_deref()?, context.domain_name.as_deref()?);
    let domain = domain.to_ascii_lowercase();
    let rest = domain.strip_prefix(&api_id.to_ascii_lowercase())?;
    rest.starts_with(".execute-api.").then_some(domain)
}

/// The Lambda response for an API response.
pub fn lambda_response(response: http::Response<Bytes>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    let text = is_text(&parts.headers);
    for name in parts.headers.keys() {
        let mut values = parts.headers.get_all(name).iter();
        if name == SET_COOKIE {
            answer.cookies.extend(values.map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()));
            continue;
        }
        let first = values.next().expect("a header name has a value").clone();
        let joined = values.fold(first, |joined, value| {
            let mut bytes = joined.as_bytes().to_vec();
            bytes.push(b',');
            bytes.extend_from_slice(value.as_bytes());
            HeaderValue::from_bytes(&bytes).expect("two header values joined by a comma are a header value")
        });
        answer.headers.insert(name.clone(), joined);
    }
    if !body.is_empty() {
        let body = match text.then(|| std::str::from_utf8(&body).ok()).flatten() {
            Some(text) => Body::Text(text.to_owned()),
            None => {
                answer.is_base64_encoded = true;
                Body::Binary(body.into())
            }
        };
        answer.body = Some(body);
    }
    answer
}

/// Whether a body with these headers is text as it travels: a JSON or text type, not compressed.
pub(crate) fn is_text(headers: &HeaderMap) -> bool {
    if headers.contains_key("x-log-compresstype") || headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence.starts_with("text/") || essence == "application/json" || essence.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respond(headers: &[(&str, &str)], body: &'static [u8]) -> ApiGatewayV2httpResponse {
        let mut response = http::Response::builder();
        for (name, value) in headers {
            response = response.header(*name, *value);
        }
        lambda_response(response.body(Bytes::from_static(body)).unwrap())
    }

    fn kind(headers: &[(&str, &str)], body: &'static [u8]) -> &'static str {
        let answer = respond(headers, body);
        match (&answer.body, answer.is_base64_encoded) {
            (None, false) => "empty",
            (Some(Body::Text(_)), false) => "text",
            (Some(Body::Binary(_)), true) => "binary",
            _ => "inconsistent",
        }
    }

    #[test]
    fn only_uncompressed_json_and_text_travel_as_text() {
        assert_eq!(kind(&[("content-type", "application/json")], b"{}"), "text");
        assert_eq!(kind(&[("content-type", "application/json; charset=utf-8")], b"{}"), "text");
        assert_eq!(kind(&[("content-type", "text/plain")], b"hi"), "text");
        assert_eq!(kind(&[("content-type", "application/x-protobuf")], b"\x0a\x00"), "binary");
        assert_eq!(kind(&[("content-type", "application/json"), ("x-log-compresstype", "lz4")], b"{}"), "binary");
        assert_eq!(kind(&[("content-type", "application/json"), ("content-encoding", "gzip")], b"{}"), "binary");
        assert_eq!(kind(&[("content-type", "application/json")], b"\xff\xfe"), "binary");
        assert_eq!(kind(&[], b"bytes"), "binary");
        assert_eq!(kind(&[("content-type", "application/json")], b""), "empty");
    }

    #[test]
    fn repeated_headers_are_joined_and_cookies_move_out() {
        let answer = respond(&[("x-a", "1"), ("x-a", "2"), ("set-cookie", "a=1"), ("set-cookie", "b=2")], b"");
        assert_eq!(answer.headers["x-a"], "1,2");
        assert!(!answer.headers.contains_key("set-cookie"));
        assert_eq!(answer.cookies, ["a=1", "b=2"]);
        assert_eq!(answer.status_code, 200);
    }

    #[test]
    fn a_body_that_is_not_base64_is_refused() {
        let event = serde_json::json!({
            "rawPath": "/", "rawQueryString": "", "headers": {}, "isBase64Encoded": true, "body": "%%%",
            "requestContext": {"http": {"method": "POST"}}
        });
        let event: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
        assert_eq!(api_request(event).unwrap_err().code, "PostBodyInvalid");
    }
}
