//! An incoming request's parts to the API's `http::Request<Bytes>`, and the API's response to
//! the parts of the outgoing one. Done here rather than with spin-sdk's conversion to
//! `http::Request`, which panics (a trap: a 500 without an SLS error) on a URI the `http` crate
//! rejects; here that is `400 ParameterInvalid`.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Uri};
use logport_api::ApiError;

/// The API's request for the incoming request's method, URI (as wasi:http gives it: absolute
/// when the host knows the scheme and authority, else the path and query), headers and body.
pub fn api_request<'a>(
    method: &str,
    uri: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    body: Vec<u8>,
) -> Result<http::Request<Bytes>, ApiError> {
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ApiError::parameter(format!("the request method '{method}' is not valid")))?;
    let uri: Uri =
        uri.parse().map_err(|error| ApiError::parameter(format!("the request target is not a valid URI: {error}")))?;
    let mut request = http::Request::new(Bytes::from(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::parameter(format!("the header name '{name}' is not valid")))?;
        let value = HeaderValue::from_bytes(value)
            .map_err(|_| ApiError::parameter(format!("the value of header '{name}' is not valid")))?;
        request.headers_mut().append(name, value);
    }
    Ok(request)
}

/// The status, headers (as name and bytes, repeated names kept) and body of an API response.
pub fn response_parts(response: http::Response<Bytes>) -> (u16, Vec<(String, Vec<u8>)>, Bytes) {
    let (parts, body) = response.into_parts();
    let headers =
        parts.headers.iter().map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec())).collect();
    (parts.status.as_u16(), headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_target_headers_and_body_exactly() {
        let headers: Vec<(&str, &[u8])> =
            vec![("host", b"p1.127.0.0.1:8080"), ("x-log-bodyrawsize", b"3"), ("x-acs-x", b"a"), ("x-acs-x", b"b")];
        let request =
            api_request("POST", "http://p1.127.0.0.1:8080/logstores/web/shards/lb?a=%2F&b", headers, b"abc".to_vec())
                .unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri().path(), "/logstores/web/shards/lb");
        assert_eq!(request.uri().query(), Some("a=%2F&b"));
        assert_eq!(request.headers()["host"], "p1.127.0.0.1:8080");
        assert_eq!(request.headers().get_all("x-acs-x").iter().count(), 2);
        assert_eq!(request.body().as_ref(), b"abc");
        let relative = api_request("GET", "/logstores?offset=0", Vec::new(), Vec::new()).unwrap();
        assert_eq!(relative.uri().path(), "/logstores");
    }

    #[test]
    fn bad_requests_are_sls_errors_not_panics() {
        let context = logport_lambda::Context::new(
            logport_lambda::Function::All,
            logport_lambda::Settings::insecure(),
            logport_lambda::Stores::memory(),
        );
        for (method, uri, header) in [
            ("GET", "/a b", ("host", &b"x"[..])),
            ("G ET", "/", ("host", &b"x"[..])),
            ("GET", "/", ("bad header", &b"x"[..])),
            ("GET", "/", ("host", &b"x\ny"[..])),
        ] {
            let error = api_request(method, uri, vec![header], Vec::new()).unwrap_err();
            let response = context.api().reject(&error);
            assert_eq!(response.status(), 400, "{method} {uri} {header:?}");
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(body["errorCode"], "ParameterInvalid");
        }
    }

    #[test]
    fn response_parts_keep_repeated_headers() {
        let response = http::Response::builder()
            .status(201)
            .header("x-log-requestid", "r1")
            .header("set-cookie", "a")
            .header("set-cookie", "b")
            .body(Bytes::from_static(b"{}"))
            .unwrap();
        let (status, headers, body) = response_parts(response);
        assert_eq!(status, 201);
        assert_eq!(headers.iter().filter(|(name, _)| name == "set-cookie").count(), 2);
        assert_eq!(body.as_ref(), b"{}");
    }
}
