//! API Gateway (HTTP API, payload format 2.0) and the Lambda runtime, emulated in process, so that
//! the project's HTTP test suites can run through the code a deployed function runs.
//!
//! [`event`] builds the event JSON API Gateway would send for an HTTP request; [`invoke`] does what
//! the Lambda runtime does with it (deserialize it into the event type, call [`crate::handle`],
//! serialize the response JSON); [`response`] turns that JSON back into HTTP the way API Gateway
//! does. Only the Runtime API's HTTP transport between the runtime and the Lambda service is left
//! out.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::LambdaEvent;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::{Map, Value, json};

use crate::Context;

/// Lambda's limit on the event and on the response of a synchronous invocation, in bytes, as its
/// `RequestEntityTooLargeException` messages state it.
pub const INVOKE_PAYLOAD_LIMIT: usize = 6_291_556;

/// The largest request body an API Gateway HTTP API accepts (10 MB).
pub const API_GATEWAY_BODY_LIMIT: usize = 10 << 20;

/// A response JSON API Gateway could not use.
#[derive(Debug, thiserror::Error)]
#[error("malformed Lambda response: {0}")]
pub struct ResponseError(String);

/// The API Gateway v2 event for a request, as API Gateway builds it: lowercase header names,
/// repeated headers joined with commas, cookies in their own list, the path and query exactly as
/// sent, and a body that is text when its type is text or JSON (uncompressed, valid UTF-8) and
/// base64 otherwise.
pub fn event(request: &http::Request<Bytes>, source_ip: IpAddr) -> Value {
    let raw_path = request.uri().path().to_owned();
    let raw_query = request.uri().query().unwrap_or("").to_owned();

    let mut headers = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(|c| json!(c)));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), json!(value));
            }
        }
    }
    let host = request.headers().get(http::header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("localhost");
    let domain_name = host.rsplit_once(':').map_or(host, |(name, _port)| name).to_owned();
    let (time, epoch_millis) = now();
    headers.entry("x-forwarded-for").or_insert_with(|| json!(source_ip.to_string()));
    headers.entry("x-forwarded-proto").or_insert_with(|| json!("http"));
    headers
        .entry("x-amzn-trace-id")
        .or_insert_with(|| json!(format!("Root=1-{:08x}-{:024x}", epoch_millis / 1000, sequence())));

    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "logport-local",
            "domainName": domain_name,
            "domainPrefix": domain_name.split('.').next().unwrap_or(""),
            "http": {
                "method": request.method().as_str(),
                "path": raw_path,
                "protocol": format!("{:?}", request.version()),
                "sourceIp": source_ip.to_string(),
                "userAgent": request.headers().get(http::header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).unwrap_or_default(),
            },
            "requestId": format!("{:x}{:06x}", epoch_millis, sequence()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time,
            "timeEpoch": epoch_millis,
        },
        "isBase64Encoded": false,
    });
    let params = query_parameters(&raw_query);
    if !params.is_empty() {
        event["queryStringParameters"] = Value::Object(params);
    }
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    let body = request.body();
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) if crate::convert::is_text(request.headers()) => event["body"] = json!(text),
            _ => {
                event["body"] = json!(BASE64.encode(body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// Runs one event through the function as the Lambda runtime would, and returns the response
/// JSON it would post to the Runtime API. An `Err` is what the runtime would report as an
/// invocation error (an event that is not an API Gateway v2 event).
pub async fn invoke(context: &Context, event: &[u8]) -> Result<Vec<u8>, lambda_http::Error> {
    let payload: ApiGatewayV2httpRequest = serde_json::from_slice(event)?;
    let response = crate::handle(context, LambdaEvent::new(payload, lambda_http::Context::default())).await?;
    Ok(serde_json::to_vec(&response)?)
}

/// The HTTP response API Gateway makes of a function's response JSON (payload format 2.0): each
/// cookie becomes a `set-cookie` header, a base64 body is decoded, framing headers
/// (`content-length`, ...) are left to the server, and JSON without a `statusCode` is itself a 200
/// JSON body.
pub fn response(json: &[u8]) -> Result<http::Response<Bytes>, ResponseError> {
    let bad = |what: String| ResponseError(what);
    let value: Value = serde_json::from_slice(json).map_err(|error| bad(format!("not JSON: {error}")))?;
    let Some(status) = value.get("statusCode") else {
        let mut inferred = http::Response::new(Bytes::copy_from_slice(json));
        inferred.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(inferred);
    };
    let status = status
        .as_u64()
        .and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| bad(format!("statusCode {status}")))?;
    let mut response = http::Response::builder().status(status);
    for (name, value) in value.get("headers").and_then(Value::as_object).into_iter().flatten() {
        // API Gateway frames the answer itself.
        if ["content-length", "transfer-encoding", "connection"].contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let value = value.as_str().ok_or_else(|| bad(format!("header {name} is not a string")))?;
        let name = HeaderName::try_from(name.as_str()).map_err(|error| bad(format!("header name {name}: {error}")))?;
        let value = HeaderValue::try_from(value).map_err(|error| bad(format!("header {name}: {error}")))?;
        response = response.header(name, value);
    }
    for cookie in value.get("cookies").and_then(Value::as_array).into_iter().flatten() {
        let cookie = cookie.as_str().ok_or_else(|| bad("a cookie is not a string".into()))?;
        response = response.header(http::header::SET_COOKIE, cookie);
    }
    let text = value.get("body").and_then(Value::as_str).unwrap_or("");
    let body = if value.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        Bytes::from(BASE64.decode(text).map_err(|error| bad(format!("body is not base64: {error}")))?)
    } else {
        Bytes::copy_from_slice(text.as_bytes())
    };
    response.body(body).map_err(|error| bad(error.to_string()))
}

/// `queryStringParameters`: decoded, repeated keys joined with commas.
fn query_parameters(raw_query: &str) -> Map<String, Value> {
    let mut params = Map::new();
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode =
            |text: &str| percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
        let (key, value) = (decode(key), decode(value));
        match params.get_mut(&key) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                params.insert(key, json!(value));
            }
        }
    }
    params
}

/// API Gateway's `time` (`12/Mar/2020:19:03:58 +0000`) and `timeEpoch` (milliseconds).
fn now() -> (String, u64) {
    let now = SystemTime::now();
    let millis = now.duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64);
    // "Sun, 06 Nov 1994 08:49:37 GMT" -> "06/Nov/1994:08:49:37 +0000"
    let date = httpdate::fmt_http_date(now);
    let fields: Vec<&str> = date.split_whitespace().collect();
    let time = match fields.as_slice() {
        [_, day, month, year, clock, _] => format!("{day}/{month}/{year}:{clock} +0000"),
        _ => date.clone(),
    };
    (time, millis)
}

fn sequence() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_event_api_gateway_would_send() {
        let request = http::Request::builder()
            .method("POST")
            .uri("/logstores/ls/shards/route?key=a%2Bb&x=1&x=2")
            .header("host", "demo.127.0.0.1:8080")
            .header("x-log-apiversion", "0.6.0")
            .header("x-custom", "one")
            .header("x-custom", "two")
            .header("cookie", "a=1; b=2")
            .header("content-type", "application/x-protobuf")
            .body(Bytes::from_static(b"\x0a\xff"))
            .unwrap();
        let event = event(&request, "192.0.2.1".parse().unwrap());
        assert_eq!(event["rawPath"], "/logstores/ls/shards/route");
        assert_eq!(event["rawQueryString"], "key=a%2Bb&x=1&x=2");
        assert_eq!(event["queryStringParameters"], json!({"key": "a+b", "x": "1,2"}));
        assert_eq!(event["headers"]["x-custom"], "one,two");
        assert_eq!(event["headers"]["host"], "demo.127.0.0.1:8080");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["requestContext"]["domainName"], "demo.127.0.0.1");
        assert_eq!(event["requestContext"]["domainPrefix"], "demo");
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "192.0.2.1");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "Cv8=");
        let time = event["requestContext"]["time"].as_str().unwrap();
        assert_eq!(time.len(), "12/Mar/2020:19:03:58 +0000".len(), "{time}");

        let json = http::Request::builder()
            .uri("/")
            .header("content-type", "application/json")
            .body(Bytes::from_static(b"{\"projectName\":\"p\"}"))
            .unwrap();
        let event = super::event(&json, "127.0.0.1".parse().unwrap());
        assert_eq!((&event["body"], &event["isBase64Encoded"]), (&json!("{\"projectName\":\"p\"}"), &json!(false)));
        let empty = http::Request::builder().uri("/").body(Bytes::new()).unwrap();
        assert!(super::event(&empty, "127.0.0.1".parse().unwrap()).get("body").is_none());
    }

    #[test]
    fn reads_the_response_as_api_gateway_does() {
        let binary = br#"{"statusCode":200,"headers":{"content-type":"application/x-protobuf","x-log-count":"2"},
            "cookies":["a=1"],"body":"Cv8=","isBase64Encoded":true}"#;
        let answer = response(binary).unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["x-log-count"], "2");
        assert_eq!(answer.headers()["set-cookie"], "a=1");
        assert_eq!(answer.body().as_ref(), b"\x0a\xff");
        let text = br#"{"statusCode":404,"headers":{},"body":"{\"errorCode\":\"X\"}","isBase64Encoded":false}"#;
        assert_eq!(response(text).unwrap().body().as_ref(), br#"{"errorCode":"X"}"#);
        let bare = br#"{"hello":"world"}"#;
        let inferred = response(bare).unwrap();
        assert_eq!((inferred.status(), inferred.body().as_ref()), (StatusCode::OK, bare.as_slice()));
        assert!(response(b"not json").is_err());
        assert!(response(br#"{"statusCode":99}"#).is_err());
    }
}
