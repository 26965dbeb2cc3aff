//! Request signatures, checked the way the official `aliyun-log-python-sdk` makes them
//! (`shared/design/sls-api.md` §1). Version 1 is `Authorization: LOG <id>:<signature>`, a base64
//! HMAC-SHA1 over the method, Content-MD5, Content-Type, Date, the signed `x-log-*`/`x-acs-*`
//! headers and the decoded resource. Version 4 is `SLS4-HMAC-SHA256 Credential=...,Signature=...`,
//! a hex HMAC-SHA256 (with a key derived per day and region) over a canonical request. Both bind
//! the body through a digest header (Content-MD5 / `x-log-content-sha256`), which is checked
//! against the body as received, and both refuse a request whose time is more than 15 minutes
//! away from the server's clock.

use std::fmt;
use std::time::UNIX_EPOCH;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::Md5;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// How far a request's time may be from the server's clock, either way, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

const V1_SCHEME: &str = "LOG";
const V4_SCHEME: &str = "SLS4-HMAC-SHA256";
const V4_SERVICE: &str = "sls";
const V4_TERMINATOR: &str = "aliyun_v4_request";
const V4_KEY_PREFIX: &str = "aliyun_v4";

/// Version 4 query values keep the RFC 3986 unreserved characters and percent-encode the rest.
const RFC3986_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// One access key: the id travels in requests, the secret never does.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

impl AccessKey {
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { id: id.into(), secret: secret.into() }
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey").field("id", &self.id).field("secret", &"<redacted>").finish()
    }
}

/// The access keys the server accepts.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    keys: Vec<AccessKey>,
}

impl Credentials {
    pub fn new(keys: impl IntoIterator<Item = AccessKey>) -> Self {
        Self { keys: keys.into_iter().collect() }
    }

    /// The key with this id, if the server knows it.
    pub fn find(&self, id: &str) -> Option<&AccessKey> {
        self.keys.iter().find(|key| key.id == id)
    }

    /// All the keys.
    pub fn keys(&self) -> &[AccessKey] {
        &self.keys
    }
}

/// Why a request was not authenticated. The message is meant for the client.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request carries no signature at all.
    #[error("{0}")]
    Missing(String),
    /// The signature, or a digest of the body, does not match the request.
    #[error("{0}")]
    SignatureNotMatch(String),
    /// An unknown access key id, a malformed Authorization or date header, or a request time too
    /// far from the server's clock.
    #[error("{0}")]
    Unauthorized(String),
}

impl AuthError {
    /// The SLS `errorCode` for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) | Self::Unauthorized(_) => "Unauthorized",
            Self::SignatureNotMatch(_) => "SignatureNotMatch",
        }
    }
}

fn unauthorized(message: impl Into<String>) -> AuthError {
    AuthError::Unauthorized(message.into())
}

/// Verifies a request's signature and returns the access key id it was signed with.
///
/// `body` is the body as received (still compressed). `now` is the server's time in unix seconds;
/// the request's own time (`Date` for version 1, `x-log-date` for version 4) must be within
/// [`MAX_CLOCK_SKEW_SECS`] of it.
pub fn verify(
    credentials: &Credentials,
    parts: &http::request::Parts,
    body: &[u8],
    now: i64,
) -> Result<String, AuthError> {
    let Some(authorization) = parts.headers.get(http::header::AUTHORIZATION) else {
        return Err(AuthError::Missing("the request is not signed: it carries no Authorization header".to_owned()));
    };
    let authorization =
        authorization.to_str().map_err(|_| unauthorized("the Authorization header is not printable ASCII"))?.trim();
    let (scheme, rest) = authorization.split_once(' ').unwrap_or((authorization, ""));
    match scheme {
        V1_SCHEME => verify_v1(credentials, parts, body, now, rest.trim()),
        V4_SCHEME => verify_v4(credentials, parts, body, now, rest.trim()),
        _ => Err(unauthorized(format!(
            "unsupported Authorization scheme {scheme:?}: expected `LOG <AccessKeyId>:<Signature>` \
             or `SLS4-HMAC-SHA256 Credential=...,Signature=...`"
        ))),
    }
}

fn verify_v1(
    credentials: &Credentials,
    parts: &http::request::Parts,
    body: &[u8],
    now: i64,
    credential: &str,
) -> Result<String, AuthError> {
    let (id, signature) = credential
        .split_once(':')
        .filter(|(id, signature)| !id.is_empty() && !signature.is_empty())
        .ok_or_else(|| unauthorized("malformed Authorization: expected `LOG <AccessKeyId>:<Signature>`"))?;
    let key = find_key(credentials, id)?;
    // The SDK signs `Date`; it sends the same value again as `x-log-date` for proxies that drop
    // `Date`, but adds that header after signing.
    let date = header_text(parts, "date")
        .or_else(|| header_text(parts, "x-log-date"))
        .ok_or_else(|| unauthorized("the request carries no Date header"))?;

    let string_to_sign = v1_string_to_sign(parts, &date);
    let provided = BASE64.decode(signature).ok();
    let mut mac = Hmac::<Sha1>::new_from_slice(key.secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    if provided.is_none_or(|provided| mac.verify_slice(&provided).is_err()) {
        return Err(AuthError::SignatureNotMatch(format!(
            "the request signature does not match: check the AccessKeySecret (the string to sign \
             was {string_to_sign:?})"
        )));
    }

    let when = httpdate::parse_http_date(&date)
        .map_err(|_| unauthorized(format!("the Date header {date:?} is not an HTTP date")))?;
    let when = when.duration_since(UNIX_EPOCH).map_or(i64::MIN, |since| since.as_secs() as i64);
    check_skew(when, now)?;

    match header_text(parts, "content-md5") {
        Some(md5) => {
            let actual = hex::encode_upper(Md5::digest(body));
            if !md5.eq_ignore_ascii_case(&actual) {
                return Err(AuthError::SignatureNotMatch(format!(
                    "InvalidContentMD5: the Content-MD5 header {md5:?} is not the MD5 of the body ({actual})"
                )));
            }
        }
        None if !body.is_empty() => {
            return Err(AuthError::SignatureNotMatch(
                "InvalidContentMD5: a request with a body must carry its Content-MD5".to_owned(),
            ));
        }
        None => {}
    }
    Ok(id.to_owned())
}

/// Signs a request with version 1, as the SDK does, for Logport's own clients (the consumer
/// library): sets `x-log-signaturemethod`, `Date` (`date` is an HTTP date, the caller's clock),
/// `Content-MD5` of the body as sent (when not empty) and `Authorization`. Every other header and
/// the URI must be final: `x-log-*` headers and the query are signed.
pub fn sign_v1(key: &AccessKey, parts: &mut http::request::Parts, body: &[u8], date: &str) {
    use http::HeaderValue;
    let headers = &mut parts.headers;
    headers.insert("x-log-signaturemethod", HeaderValue::from_static("hmac-sha1"));
    headers.insert(http::header::DATE, HeaderValue::from_str(date).expect("an HTTP date is a header value"));
    if body.is_empty() {
        headers.remove("content-md5");
    } else {
        let md5 = hex::encode_upper(Md5::digest(body));
        headers.insert("content-md5", HeaderValue::from_str(&md5).expect("hex is a header value"));
    }
    let string_to_sign = v1_string_to_sign(parts, date);
    let mut mac = Hmac::<Sha1>::new_from_slice(key.secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    let signature = BASE64.encode(mac.finalize().into_bytes());
    let authorization = format!("{V1_SCHEME} {}:{signature}", key.id);
    let authorization = HeaderValue::from_str(&authorization).unwrap_or_else(|_| HeaderValue::from_static("LOG -:-"));
    parts.headers.insert(http::header::AUTHORIZATION, authorization);
}

/// `METHOD\nContent-MD5\nContent-Type\nDate\n` + the signed headers as `name:value\n`, sorted by
/// name + the decoded path + `?k=v&...` (decoded, sorted by key) when there are parameters.
fn v1_string_to_sign(parts: &http::request::Parts, date: &str) -> String {
    let mut text = String::new();
    for line in [
        parts.method.as_str(),
        &header_text(parts, "content-md5").unwrap_or_default(),
        &header_text(parts, "content-type").unwrap_or_default(),
        date,
    ] {
        text.push_str(line);
        text.push('\n');
    }
    for (name, value) in signed_log_headers(parts) {
        if name == "x-log-date" {
            continue;
        }
        text.push_str(name);
        text.push(':');
        text.push_str(&value);
        text.push('\n');
    }
    text.push_str(&decoded_path(&parts.uri));
    let params = query_params(parts.uri.query());
    for (index, (key, value)) in params.iter().enumerate() {
        text.push(if index == 0 { '?' } else { '&' });
        text.push_str(key);
        text.push('=');
        text.push_str(value);
    }
    text
}

fn verify_v4(
    credentials: &Credentials,
    parts: &http::request::Parts,
    body: &[u8],
    now: i64,
    fields: &str,
) -> Result<String, AuthError> {
    let malformed = || {
        unauthorized(
            "malformed Authorization: expected `SLS4-HMAC-SHA256 \
             Credential=<AccessKeyId>/<yyyymmdd>/<region>/sls/aliyun_v4_request,Signature=<hex>`",
        )
    };
    let (mut credential, mut signature) = (None, None);
    for field in fields.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", value)) => credential = Some(value),
            Some(("Signature", value)) => signature = Some(value),
            _ => {}
        }
    }
    let (Some(credential), Some(signature)) = (credential, signature) else {
        return Err(malformed());
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let &[id, day, region, service, terminator] = scope.as_slice() else {
        return Err(malformed());
    };
    if id.is_empty() || service != V4_SERVICE || terminator != V4_TERMINATOR {
        return Err(malformed());
    }
    let key = find_key(credentials, id)?;
    let request_time =
        header_text(parts, "x-log-date").ok_or_else(|| unauthorized("the request carries no x-log-date header"))?;
    let when = parse_v4_time(&request_time)
        .ok_or_else(|| unauthorized(format!("the x-log-date header {request_time:?} is not YYYYMMDDTHHMMSSZ")))?;
    if day.len() != 8 || !request_time.starts_with(day) {
        return Err(unauthorized(format!(
            "the credential scope's date {day:?} is not the day of x-log-date {request_time:?}"
        )));
    }

    let body_sha256 = hex::encode(Sha256::digest(body));
    let payload_hash = header_text(parts, "x-log-content-sha256").unwrap_or_else(|| body_sha256.clone());
    let canonical_request = v4_canonical_request(parts, &payload_hash);
    let scope = format!("{day}/{region}/{V4_SERVICE}/{V4_TERMINATOR}");
    let string_to_sign =
        format!("{V4_SCHEME}\n{request_time}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let signing_key = [day, region, V4_SERVICE, V4_TERMINATOR]
        .into_iter()
        .fold(format!("{V4_KEY_PREFIX}{}", key.secret).into_bytes(), |key, part| hmac_sha256(&key, part.as_bytes()));
    let provided = hex::decode(signature).ok();
    let mut mac = Hmac::<Sha256>::new_from_slice(&signing_key).expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    if provided.is_none_or(|provided| mac.verify_slice(&provided).is_err()) {
        return Err(AuthError::SignatureNotMatch(format!(
            "the request signature does not match: check the AccessKeySecret (the canonical request \
             was {canonical_request:?})"
        )));
    }

    check_skew(when, now)?;
    if !payload_hash.eq_ignore_ascii_case(&body_sha256) {
        return Err(AuthError::SignatureNotMatch(format!(
            "the x-log-content-sha256 header {payload_hash:?} is not the SHA-256 of the body ({body_sha256})"
        )));
    }
    Ok(id.to_owned())
}

/// `METHOD\npath\nquery\nheaders\nsigned-headers\npayload-hash`: query keys sorted, values
/// RFC 3986-encoded (a bare key when empty); headers are `content-type`, `host` and the signed
/// `x-log-*`/`x-acs-*` ones as sorted `name:value\n` lines, their names joined by `;`.
fn v4_canonical_request(parts: &http::request::Parts, payload_hash: &str) -> String {
    let mut headers: Vec<(&str, String)> = signed_log_headers(parts);
    for name in ["content-type", "host"] {
        if let Some(value) = header_text(parts, name) {
            headers.push((name, value));
        } else if name == "host"
            && let Some(authority) = parts.uri.authority()
        {
            // HTTP/2 carries the host in `:authority`, which lands in the URI.
            headers.push((name, authority.as_str().to_owned()));
        }
    }
    headers.sort();

    let mut text = format!("{}\n{}\n", parts.method, decoded_path(&parts.uri));
    for (index, (key, value)) in query_params(parts.uri.query()).iter().enumerate() {
        if index > 0 {
            text.push('&');
        }
        text.push_str(key);
        if !value.is_empty() {
            text.push('=');
            text.extend(utf8_percent_encode(value, RFC3986_UNRESERVED));
        }
    }
    text.push('\n');
    for (name, value) in &headers {
        text.push_str(name);
        text.push(':');
        text.push_str(value.trim());
        text.push('\n');
    }
    text.push('\n');
    let names: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
    text.push_str(&names.join(";"));
    text.push('\n');
    text.push_str(payload_hash);
    text
}

fn find_key<'a>(credentials: &'a Credentials, id: &str) -> Result<&'a AccessKey, AuthError> {
    credentials.find(id).ok_or_else(|| unauthorized(format!("the AccessKeyId {id:?} is not known")))
}

fn check_skew(when: i64, now: i64) -> Result<(), AuthError> {
    if when.abs_diff(now) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(unauthorized(format!(
            "RequestTimeTooSkewed: the request time ({when}) is more than 15 minutes away from the \
             server time ({now})"
        )));
    }
    Ok(())
}

/// A header's value as the SDK saw it when signing: Python's HTTP client sends header strings as
/// Latin-1, so each byte is one character (for ASCII, the value unchanged).
fn header_text(parts: &http::request::Parts, name: &str) -> Option<String> {
    parts.headers.get(name).map(|value| value.as_bytes().iter().map(|&byte| char::from(byte)).collect())
}

/// Headers named `x-acs-*`, or `x-log-*` but not `x-log-meta-*`, sorted by (lowercase) name.
fn signed_log_headers(parts: &http::request::Parts) -> Vec<(&str, String)> {
    let mut headers: Vec<(&str, String)> = parts
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-acs-") || (name.starts_with("x-log-") && !name.starts_with("x-log-meta-")))
        .filter_map(|name| Some((name, header_text(parts, name)?)))
        .collect();
    headers.sort();
    headers
}

/// The request path, percent-decoded (the SDK signs the resource before it is encoded).
fn decoded_path(uri: &http::Uri) -> String {
    percent_decode_str(uri.path()).decode_utf8_lossy().into_owned()
}

/// The query as form-urlencoded `(key, value)` pairs, decoded (`+` is a space), sorted by key;
/// a key without `=` has an empty value.
fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    let decode = |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
    let mut params: Vec<(String, String)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect();
    params.sort();
    params
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` (UTC) to unix seconds.
fn parse_v4_time(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = &text[range];
        digits.bytes().all(|byte| byte.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_v1_makes_requests_that_verify() {
        let key = AccessKey::new("id1", "secret1");
        let credentials = Credentials::new([key.clone()]);
        let request =
            http::Request::post("/logstores/ls/consumergroups/g?type=checkpoint&consumer=c%20d&forceSuccess=True")
                .header("content-type", "application/json")
                .header("x-log-apiversion", "0.6.0")
                .body(())
                .unwrap();
        let (mut parts, ()) = request.into_parts();
        let body = br#"{"shard":0,"checkpoint":"MA=="}"#;
        let now = 1_700_000_000;
        let date = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(now as u64));
        sign_v1(&key, &mut parts, body, &date);
        assert_eq!(verify(&credentials, &parts, body, now).unwrap(), "id1");
        assert!(verify(&credentials, &parts, b"{}", now).is_err(), "the body is bound");
        let wrong = Credentials::new([AccessKey::new("id1", "other")]);
        assert!(matches!(verify(&wrong, &parts, body, now), Err(AuthError::SignatureNotMatch(_))));
    }

    /// Requests the real SDK sent (see `tests/data/signed_requests.py`).
    #[derive(Debug, Clone, serde::Deserialize)]
    struct Fixture {
        name: String,
        version: String,
        method: String,
        uri: String,
        headers: Vec<(String, String)>,
        body_b64: String,
        akid: String,
        secret: String,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Fixtures {
        requests: Vec<Fixture>,
    }

    impl Fixture {
        fn credentials(&self) -> Credentials {
            Credentials::new([AccessKey::new("someone-else", "x"), AccessKey::new(&self.akid, &self.secret)])
        }

        fn body(&self) -> Vec<u8> {
            BASE64.decode(&self.body_b64).unwrap()
        }

        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
        }

        fn set_header(&mut self, name: &str, value: &str) {
            self.headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
            self.headers.push((name.to_owned(), value.to_owned()));
        }

        fn remove_header(&mut self, name: &str) {
            self.headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        }

        fn parts(&self) -> http::request::Parts {
            let mut request = http::Request::builder().method(self.method.as_str()).uri(self.uri.as_str());
            for (name, value) in &self.headers {
                request = request.header(name, value);
            }
            request.body(()).unwrap().into_parts().0
        }

        /// The time the SDK signed at.
        fn signed_at(&self) -> i64 {
            match self.version.as_str() {
                "v1" => httpdate::parse_http_date(self.header("Date").or(self.header("x-log-date")).unwrap())
                    .unwrap()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64,
                _ => parse_v4_time(self.header("x-log-date").unwrap()).unwrap(),
            }
        }

        fn verify_with(&self, credentials: &Credentials, body: &[u8], now: i64) -> Result<String, AuthError> {
            verify(credentials, &self.parts(), body, now)
        }

        fn verify(&self) -> Result<String, AuthError> {
            self.verify_with(&self.credentials(), &self.body(), self.signed_at())
        }
    }

    fn fixtures() -> Vec<Fixture> {
        let fixtures: Fixtures = serde_json::from_str(include_str!("../tests/data/signed_requests.json")).unwrap();
        assert!(fixtures.requests.len() >= 16, "the fixtures cover both versions");
        fixtures.requests
    }

    #[track_caller]
    fn assert_code(result: Result<String, AuthError>, code: &str, name: &str) {
        match result {
            Ok(id) => panic!("{name}: accepted as {id}, expected {code}"),
            Err(error) => assert_eq!(error.code(), code, "{name}: {error}"),
        }
    }

    #[test]
    fn every_sdk_request_verifies() {
        let all = fixtures();
        for version in ["v1", "v4"] {
            assert!(all.iter().any(|fixture| fixture.version == version));
        }
        for fixture in all {
            assert_eq!(
                fixture.verify().map_err(|error| error.to_string()),
                Ok(fixture.akid.clone()),
                "{}",
                fixture.name
            );
        }
    }

    #[test]
    fn the_fixtures_cover_the_tricky_parts() {
        let all = fixtures();
        assert!(all.iter().any(|fixture| fixture.uri.starts_with("http://")), "absolute-form target");
        assert!(all.iter().any(|fixture| fixture.uri.contains("=&") || fixture.uri.ends_with('=')), "empty value");
        assert!(all.iter().any(|fixture| fixture.uri.contains('+') && fixture.uri.contains('~')), "form encoding");
        assert!(all.iter().any(|fixture| fixture.header("x-acs-security-token").is_some()), "STS token");
        assert!(all.iter().any(|fixture| fixture.header("x-log-compresstype") == Some("lz4")), "lz4 body");
        assert!(
            all.iter().any(|fixture| fixture.header("Host").is_some_and(|host| !host.contains("p1."))),
            "no project"
        );
    }

    #[test]
    fn a_wrong_secret_does_not_match() {
        for fixture in fixtures() {
            let credentials = Credentials::new([AccessKey::new(&fixture.akid, "not-the-secret")]);
            assert_code(
                fixture.verify_with(&credentials, &fixture.body(), fixture.signed_at()),
                "SignatureNotMatch",
                &fixture.name,
            );
        }
    }

    #[test]
    fn an_altered_signed_header_does_not_match() {
        for fixture in fixtures() {
            let mut altered = fixture.clone();
            altered.set_header("x-log-apiversion", "0.6.1");
            assert_code(altered.verify(), "SignatureNotMatch", &fixture.name);

            let mut added = fixture.clone();
            added.set_header("x-log-compresstype", "zstd");
            if fixture.header("x-log-compresstype") != Some("zstd") {
                assert_code(added.verify(), "SignatureNotMatch", &fixture.name);
            }

            let mut content_type = fixture.clone();
            content_type.set_header("Content-Type", "text/plain");
            assert_code(content_type.verify(), "SignatureNotMatch", &fixture.name);
        }
    }

    #[test]
    fn an_altered_date_does_not_match() {
        for fixture in fixtures() {
            let mut altered = fixture.clone();
            let later = fixture.signed_at() + 60;
            if fixture.version == "v1" {
                let date = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(later as u64));
                altered.set_header("Date", &date);
            } else {
                let date = fixture.header("x-log-date").unwrap();
                altered.set_header("x-log-date", &format!("{}{:02}Z", &date[..13], (later % 60 + 1) % 60));
            }
            assert_code(
                altered.verify_with(&fixture.credentials(), &fixture.body(), later),
                "SignatureNotMatch",
                &fixture.name,
            );
        }
    }

    #[test]
    fn unsigned_headers_do_not_matter() {
        for fixture in fixtures() {
            let mut changed = fixture.clone();
            changed.set_header("User-Agent", "something else");
            changed.set_header("x-log-meta-anything", "1");
            changed.remove_header("Accept-Encoding");
            if fixture.version == "v1" {
                // Added by the SDK after signing.
                changed.set_header("x-log-date", "whatever");
            }
            assert_eq!(
                changed.verify().map_err(|error| error.to_string()),
                Ok(fixture.akid.clone()),
                "{}",
                fixture.name
            );
        }
    }

    #[test]
    fn the_host_is_signed_in_v4_only() {
        for fixture in fixtures() {
            let mut other = fixture.clone();
            other.set_header("Host", "p2.127.0.0.1");
            let result = other.verify();
            if fixture.version == "v4" {
                assert_code(result, "SignatureNotMatch", &fixture.name);
            } else {
                assert!(result.is_ok(), "{}", fixture.name);
            }
        }
    }

    #[test]
    fn an_altered_path_or_query_does_not_match() {
        for fixture in fixtures() {
            let mut path = fixture.clone();
            path.uri = fixture.uri.replacen("/ls1", "/ls2", 1);
            if path.uri != fixture.uri {
                assert_code(path.verify(), "SignatureNotMatch", &fixture.name);
            }
            let mut query = fixture.clone();
            query.uri = if fixture.uri.contains('?') {
                format!("{}&extra=1", fixture.uri)
            } else {
                format!("{}?extra=1", fixture.uri)
            };
            assert_code(query.verify(), "SignatureNotMatch", &fixture.name);
        }
    }

    #[test]
    fn the_query_is_canonical_not_literal() {
        // Reordered parameters and other spellings of the same values sign the same.
        let fixture = fixtures().into_iter().find(|fixture| fixture.name == "histogram_v1").unwrap();
        let (path, query) = fixture.uri.split_once('?').unwrap();
        let mut pairs: Vec<&str> = query.split('&').collect();
        pairs.reverse();
        for spelling in [pairs.join("&"), query.replace('~', "%7E").replace("+b", "%20b")] {
            let mut reordered = fixture.clone();
            reordered.uri = format!("{path}?{spelling}");
            assert!(reordered.verify().is_ok(), "{spelling}");
            let mut v4 = fixtures().into_iter().find(|fixture| fixture.name == "histogram_v4").unwrap();
            v4.uri = format!("{path}?{spelling}");
            assert!(v4.verify().is_ok(), "{spelling}");
        }
    }

    #[test]
    fn an_altered_body_does_not_match() {
        for fixture in fixtures() {
            let mut body = fixture.body();
            if let Some(byte) = body.first_mut() {
                *byte ^= 1;
            } else {
                body.push(b'x');
            }
            assert_code(
                fixture.verify_with(&fixture.credentials(), &body, fixture.signed_at()),
                "SignatureNotMatch",
                &fixture.name,
            );
        }
    }

    #[test]
    fn an_unknown_key_id_is_unauthorized() {
        for fixture in fixtures() {
            let credentials = Credentials::new([AccessKey::new("another-id", &fixture.secret)]);
            let result = fixture.verify_with(&credentials, &fixture.body(), fixture.signed_at());
            let Err(error @ AuthError::Unauthorized(_)) = result else { panic!("{}: {result:?}", fixture.name) };
            assert_eq!(error.code(), "Unauthorized");
        }
    }

    #[test]
    fn a_missing_authorization_is_unauthorized() {
        for fixture in fixtures() {
            let mut unsigned = fixture.clone();
            unsigned.remove_header("Authorization");
            let result = unsigned.verify();
            let Err(error @ AuthError::Missing(_)) = result else { panic!("{}: {result:?}", fixture.name) };
            assert_eq!(error.code(), "Unauthorized");
        }
    }

    #[test]
    fn a_malformed_authorization_is_unauthorized() {
        let fixture = fixtures().into_iter().next().unwrap();
        for value in [
            "",
            "LOG",
            "LOG nocolon",
            "LOG :sig",
            "Bearer abc",
            "SLS4-HMAC-SHA256 Signature=00",
            "SLS4-HMAC-SHA256 Credential=LTAItestkey0001/20261122/cn-hangzhou/oss/aliyun_v4_request,Signature=00",
            "SLS4-HMAC-SHA256 Credential=LTAItestkey0001/cn-hangzhou/sls/aliyun_v4_request,Signature=00",
        ] {
            let mut malformed = fixture.clone();
            malformed.set_header("Authorization", value);
            assert_code(malformed.verify(), "Unauthorized", value);
        }
    }

    #[test]
    fn a_skewed_clock_is_unauthorized() {
        for fixture in fixtures() {
            let at = fixture.signed_at();
            for now in [at - MAX_CLOCK_SKEW_SECS, at + MAX_CLOCK_SKEW_SECS] {
                assert!(fixture.verify_with(&fixture.credentials(), &fixture.body(), now).is_ok(), "{}", fixture.name);
            }
            for now in [at - MAX_CLOCK_SKEW_SECS - 1, at + 16 * 60] {
                let result = fixture.verify_with(&fixture.credentials(), &fixture.body(), now);
                let Err(error @ AuthError::Unauthorized(_)) = result else { panic!("{}: {result:?}", fixture.name) };
                assert!(error.to_string().contains("RequestTimeTooSkewed"), "{error}");
            }
        }
    }

    #[test]
    fn v1_falls_back_to_x_log_date_when_a_proxy_drops_date() {
        for fixture in fixtures().into_iter().filter(|fixture| fixture.version == "v1") {
            let mut no_date = fixture.clone();
            no_date.remove_header("Date");
            assert!(no_date.verify().is_ok(), "{}", fixture.name);
        }
    }

    #[test]
    fn v1_string_to_sign_is_the_documented_one() {
        let fixture = fixtures().into_iter().find(|fixture| fixture.name == "list_project_v1").unwrap();
        let date = fixture.header("Date").unwrap();
        assert_eq!(
            v1_string_to_sign(&fixture.parts(), date),
            format!(
                "GET\n\n\n{date}\nx-log-apiversion:0.6.0\nx-log-bodyrawsize:0\n\
                 x-log-signaturemethod:hmac-sha1\n/?offset=0&resourceGroupId=&size=100"
            )
        );
        let fixture = fixtures().into_iter().find(|fixture| fixture.name == "histogram_v1").unwrap();
        let text = v1_string_to_sign(&fixture.parts(), fixture.header("Date").unwrap());
        assert!(text.ends_with("&query=a b+c~d/e & f=g|ü&to=1700003600&toNs=0&topic=&type=histogram"), "{text}");
    }

    #[test]
    fn v4_canonical_request_is_the_documented_one() {
        let fixture = fixtures().into_iter().find(|fixture| fixture.name == "histogram_v4").unwrap();
        let canonical = v4_canonical_request(&fixture.parts(), fixture.header("x-log-content-sha256").unwrap());
        let lines: Vec<&str> = canonical.split('\n').collect();
        assert_eq!(lines[0], "GET");
        assert_eq!(lines[1], "/logstores/ls1");
        assert_eq!(
            lines[2],
            "accurate=True&from=1700000000&fromNs=0&query=a%20b%2Bc~d%2Fe%20%26%20f%3Dg%7C%C3%BC&to=1700003600\
             &toNs=0&topic&type=histogram"
        );
        assert_eq!(lines[3], "host:p1.127.0.0.1");
        assert_eq!(lines[lines.len() - 2], "host;x-log-apiversion;x-log-bodyrawsize;x-log-content-sha256;x-log-date");
    }

    #[test]
    fn v4_time_parses() {
        assert_eq!(parse_v4_time("19700101T000000Z"), Some(0));
        assert_eq!(parse_v4_time("20261122T053012Z"), Some(1_795_325_412));
        assert_eq!(parse_v4_time("20000229T235959Z"), Some(951_868_799));
        for bad in ["20261122T053012", "2026-11-22T05:30Z", "20261322T053012Z", "2026112xT053012Z", "+0261122T053012Z"]
        {
            assert_eq!(parse_v4_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let credentials = Credentials::new([AccessKey::new("id", "very-secret")]);
        assert!(!format!("{credentials:?}").contains("very-secret"));
        assert_eq!(credentials.find("id").map(|key| key.secret.as_str()), Some("very-secret"));
        assert!(credentials.find("other").is_none());
    }
}
