//! The SLS wire form of a PutLogs call: the `LogGroup` protobuf (logport-core's model), lz4
//! (logport-core's codec), and the v1 request signature (HMAC-SHA1, sls-api.md §1) that the
//! official SDKs use. No I/O here: [`PutLogs::request`] yields method, path, headers and body for
//! whatever HTTP client the host has.

use base64::Engine;
use hmac::{Hmac, Mac};
use logport_core::codec::Compression;
use logport_core::model::LogGroup;
use md5::{Digest, Md5};
use prost::Message;

/// The v1 signature of a request (sls-api.md §1): `headers` are lower-case names with values.
pub fn sign_v1(secret: &str, method: &str, path: &str, query: &[(&str, &str)], headers: &[(String, String)]) -> String {
    let find = |name: &str| headers.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.as_str());
    let mut text = format!("{method}\n{}\n{}\n{}\n", find("content-md5"), find("content-type"), find("date"));
    let mut signed: Vec<&(String, String)> = headers
        .iter()
        .filter(|(key, _)| (key.starts_with("x-log-") && !key.starts_with("x-log-meta-")) || key.starts_with("x-acs-"))
        .collect();
    signed.sort();
    for (key, value) in signed {
        text.push_str(key);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push_str(path);
    if !query.is_empty() {
        let mut pairs: Vec<_> = query.to_vec();
        pairs.sort();
        let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        text.push('?');
        text.push_str(&joined.join("&"));
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Where and as whom logs are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub project: String,
    pub logstore: String,
    pub key_id: String,
    pub key_secret: String,
}

/// One signed PutLogs request.
#[derive(Debug, Clone)]
pub struct PutLogs {
    pub method: &'static str,
    /// Path only; the host goes in front.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl PutLogs {
    /// The request for `group` to `target`, dated `date` (an HTTP date). With `idempotency_key`
    /// (Logport's `x-log-idempotency-key`), the service commits the batch at most once however
    /// often it is sent: a batch resent after a cut answer is not written twice.
    pub fn request(target: &Target, group: &LogGroup, date: &str, idempotency_key: Option<&str>) -> PutLogs {
        let raw = group.encode_to_vec();
        let body = Compression::Lz4.compress(&raw);
        let path = format!("/logstores/{}/shards/lb", target.logstore);
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/x-protobuf".into()),
            ("x-log-compresstype".into(), "lz4".into()),
            ("x-log-bodyrawsize".into(), raw.len().to_string()),
            ("x-log-apiversion".into(), "0.6.0".into()),
            ("x-log-signaturemethod".into(), "hmac-sha1".into()),
            ("x-log-project".into(), target.project.clone()),
            ("date".into(), date.to_owned()),
            ("content-md5".into(), hex::encode_upper(Md5::digest(&body))),
        ];
        if let Some(key) = idempotency_key.filter(|key| !key.is_empty()) {
            headers.push(("x-log-idempotency-key".into(), key.to_owned()));
        }
        let signature = sign_v1(&target.key_secret, "POST", &path, &[], &headers);
        headers.push(("authorization".into(), format!("LOG {}:{signature}", target.key_id)));
        PutLogs { method: "POST", path, headers, body }
    }
}

/// The signed `POST /agents/poll` (Logport) carrying `body` (JSON), dated `date`.
pub fn poll_request(target: &Target, body: Vec<u8>, date: &str) -> PutLogs {
    let path = "/agents/poll".to_owned();
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("x-log-bodyrawsize".into(), body.len().to_string()),
        ("x-log-apiversion".into(), "0.6.0".into()),
        ("x-log-signaturemethod".into(), "hmac-sha1".into()),
        ("x-log-project".into(), target.project.clone()),
        ("date".into(), date.to_owned()),
        ("content-md5".into(), hex::encode_upper(Md5::digest(&body))),
    ];
    let signature = sign_v1(&target.key_secret, "POST", &path, &[], &headers);
    headers.push(("authorization".into(), format!("LOG {}:{signature}", target.key_id)));
    PutLogs { method: "POST", path, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logport_core::model::{Content, Log};

    #[test]
    fn request_round_trips_and_signs_what_it_sends() {
        let group = LogGroup {
            logs: vec![Log { time: 1, contents: vec![Content { key: "a".into(), value: "b".into() }], time_ns: None }],
            ..Default::default()
        };
        let target =
            Target { project: "p".into(), logstore: "s".into(), key_id: "id".into(), key_secret: "secret".into() };
        let request = PutLogs::request(&target, &group, "Mon, 01 Jan 2024 00:00:00 GMT", Some("lpa-1-2"));
        assert_eq!(request.headers.iter().find(|(k, _)| k == "x-log-idempotency-key").unwrap().1, "lpa-1-2");
        let header = |name: &str| request.headers.iter().find(|(k, _)| k == name).unwrap().1.clone();
        let raw_size: usize = header("x-log-bodyrawsize").parse().unwrap();
        let raw = Compression::Lz4.decompress(&request.body, raw_size, usize::MAX).unwrap();
        assert_eq!(LogGroup::decode_bytes(&raw).unwrap(), group);
        let unsigned: Vec<_> = request.headers.iter().filter(|(k, _)| k != "authorization").cloned().collect();
        assert_eq!(
            header("authorization"),
            format!("LOG id:{}", sign_v1("secret", "POST", "/logstores/s/shards/lb", &[], &unsigned))
        );
        // A different secret gives a different signature.
        assert_ne!(sign_v1("other", "POST", "/x", &[], &unsigned), sign_v1("secret", "POST", "/x", &[], &unsigned));
    }
}
