//! Where a component may send HTTP requests: a Spin-style `allowed_outbound_hosts` list,
//! checked by the host on every outgoing `wasi:http` request (a request to anywhere else fails in
//! the guest with `HTTP-request-denied` and never leaves the host).
//!
//! An entry is `scheme://host[:port]`:
//! - scheme: `http`, `https` or `*`;
//! - host: a name or an IP address (IPv6 in brackets), `*` for any host, or `*.suffix` for any
//!   name under `suffix` (at any depth; not `suffix` itself);
//! - port: a number, a range `a..b` (end excluded, as Spin), `*` for any port, or nothing for
//!   the scheme's default (80, 443; with scheme `*` both). A trailing `/` is allowed.
//!
//! An empty list allows nothing, as in Spin. Spin's `self` (the app's own address) is not
//! supported: Logport's components do not call themselves.

use std::net::Ipv6Addr;
use std::sync::Arc;

use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The parsed list. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundHosts {
    rules: Arc<Vec<Rule>>,
    any: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `None`: any scheme.
    scheme: Option<&'static str>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.suffix`: names ending in `.suffix` (stored with the leading dot).
    Under(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Any,
    /// The scheme's default port (80 for http, 443 for https).
    Default,
    /// `start..end`, end excluded (a single port is `p..p+1`).
    Range(u16, u32),
}

/// An entry that is not `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allowed_outbound_hosts entry '{entry}': {reason}")]
pub struct OutboundHostError {
    pub entry: String,
    pub reason: String,
}

impl OutboundHosts {
    /// Every destination (commands given the network, and functions loaded without a manifest).
    pub fn any() -> Self {
        Self { rules: Arc::new(Vec::new()), any: true }
    }

    /// Parses a manifest's list; entries that are empty (an unset optional variable) grant nothing.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, OutboundHostError> {
        let mut rules = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            rules.push(parse_entry(entry).map_err(|reason| OutboundHostError { entry: entry.to_owned(), reason })?);
        }
        Ok(Self { rules: Arc::new(rules), any: false })
    }

    /// Whether a request to `scheme://host:port` is allowed (`port` as the request would connect,
    /// the scheme's default filled in).
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.any {
            return true;
        }
        let scheme = scheme.to_ascii_lowercase();
        let host = normalize_host(host);
        self.rules.iter().any(|rule| {
            rule.scheme.is_none_or(|wanted| wanted == scheme)
                && match &rule.host {
                    HostPattern::Any => true,
                    HostPattern::Exact(name) => *name == host,
                    HostPattern::Under(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
                }
                && match rule.port {
                    PortPattern::Any => true,
                    PortPattern::Default => default_port(&scheme) == Some(port),
                    PortPattern::Range(start, end) => port >= start && u32::from(port) < end,
                }
        })
    }

    /// Whether the request's target is allowed (an absolute URI, as wasi:http builds it).
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else { return self.any };
        let Some(port) = uri.port_u16().or_else(|| default_port(&scheme.to_ascii_lowercase())) else {
            return self.any;
        };
        self.allows(scheme, host, port)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Lower-case, brackets and a trailing dot removed.
fn normalize_host(host: &str) -> String {
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn parse_entry(entry: &str) -> Result<Rule, String> {
    let (scheme, rest) =
        entry.split_once("://").ok_or_else(|| "expected scheme://host[:port], e.g. https://example.com".to_owned())?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "*" => None,
        "http" => Some("http"),
        "https" => Some("https"),
        other => return Err(format!("scheme '{other}' is not supported (http, https or *)")),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err("a path is not allowed, only scheme://host[:port]".to_owned());
    }
    // An IPv6 literal is bracketed; otherwise the port follows the last ':'.
    let (host, port) = if let Some(after) = rest.strip_prefix('[') {
        let (address, tail) = after.split_once(']').ok_or_else(|| "unclosed '[' in an IPv6 address".to_owned())?;
        address.parse::<Ipv6Addr>().map_err(|_| format!("'{address}' is not an IPv6 address"))?;
        let port = match tail {
            "" => None,
            _ => Some(tail.strip_prefix(':').ok_or_else(|| format!("unexpected '{tail}' after the address"))?),
        };
        (address.to_ascii_lowercase(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
            None => (rest.to_ascii_lowercase(), None),
        }
    };
    if host == "self" || host == "self.alt" {
        return Err("'self' is not supported by Logport's host".to_owned());
    }
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(suffix) = host.strip_prefix("*.") {
        check_name(suffix)?;
        HostPattern::Under(format!(".{}", suffix.trim_end_matches('.')))
    } else {
        if host.contains('*') {
            return Err(format!("'{host}': a wildcard is only allowed as the whole host or a leading '*.'"));
        }
        if !host.contains(':') {
            check_name(&host)?;
        }
        HostPattern::Exact(host.trim_end_matches('.').to_owned())
    };
    let port = match port {
        None => PortPattern::Default,
        Some("*") => PortPattern::Any,
        Some(range) if range.contains("..") => {
            let (start, end) = range.split_once("..").unwrap_or_default();
            let (start, end) = (parse_port(start)?, parse_port(end)?);
            if start >= end {
                return Err(format!("port range '{range}' is empty"));
            }
            PortPattern::Range(start, u32::from(end))
        }
        Some(port) => {
            let port = parse_port(port)?;
            PortPattern::Range(port, u32::from(port) + 1)
        }
    };
    Ok(Rule { scheme, host, port })
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse().map_err(|_| format!("'{text}' is not a port (0-65535, '*' or a range a..b)"))
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if valid { Ok(()) } else { Err(format!("'{name}' is not a host name")) }
}

/// The wasi:http hooks of a store: outgoing requests are checked against the list, then sent
/// on the host's pooled client.
#[derive(Debug, Clone)]
pub(crate) struct Hooks {
    pub(crate) outbound: OutboundHosts,
    pub(crate) client: crate::client::Client,
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_error: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> crate::client::SendFuture {
        if !self.outbound.allows_uri(request.uri()) {
            tracing::warn!(uri = %request.uri(), "outgoing request denied: not in allowed_outbound_hosts");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let client = self.client.clone();
        Box::new(async move { client.send(request, options).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> OutboundHosts {
        OutboundHosts::parse(entries).unwrap()
    }

    #[test]
    fn matches_scheme_host_and_port() {
        let list = hosts(&["https://*.amazonaws.com", "http://127.0.0.1:5000", "*://example.com:*"]);
        assert!(list.allows("https", "s3.us-east-1.amazonaws.com", 443));
        assert!(list.allows("https", "bucket.s3.us-east-1.amazonaws.com", 443));
        assert!(list.allows("HTTPS", "DynamoDB.eu-west-1.AmazonAWS.com.", 443));
        assert!(!list.allows("https", "amazonaws.com", 443), "*.x does not match x itself");
        assert!(!list.allows("http", "s3.amazonaws.com", 80), "scheme");
        assert!(!list.allows("https", "s3.amazonaws.com", 8443), "default port only");
        assert!(!list.allows("https", "evil-amazonaws.com", 443));
        assert!(list.allows("http", "127.0.0.1", 5000));
        assert!(!list.allows("http", "127.0.0.1", 5001));
        assert!(!list.allows("https", "127.0.0.1", 5000));
        assert!(list.allows("http", "example.com", 1));
        assert!(list.allows("https", "example.com", 65535));
        assert!(!list.allows("https", "www.example.com", 443));
    }

    #[test]
    fn wildcards_ranges_and_ipv6() {
        let list = hosts(&["*://*:8000..8002", "http://[::1]:9000", "https://*"]);
        assert!(list.allows("http", "anything", 8000));
        assert!(list.allows("https", "anything", 8001));
        assert!(!list.allows("http", "anything", 8002));
        assert!(list.allows("http", "[::1]", 9000));
        assert!(list.allows("http", "::1", 9000));
        assert!(list.allows("https", "any.host", 443));
        assert!(!list.allows("http", "any.host", 80));
        let uri: http::Uri = "http://[::1]:9000/x".parse().unwrap();
        assert!(list.allows_uri(&uri));
        let uri: http::Uri = "https://any.host/path?q".parse().unwrap();
        assert!(list.allows_uri(&uri));
        let uri: http::Uri = "http://any.host/path".parse().unwrap();
        assert!(!list.allows_uri(&uri));
    }

    #[test]
    fn empty_allows_nothing_and_any_allows_everything() {
        let none = OutboundHosts::parse(&["", "  "]).unwrap();
        assert!(!none.allows("https", "example.com", 443));
        assert!(!none.allows_uri(&"https://example.com/".parse().unwrap()));
        assert!(OutboundHosts::any().allows("gopher", "x", 70));
        assert!(OutboundHosts::any().allows_uri(&"/relative".parse().unwrap()));
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (entry, expected) in [
            ("example.com", "expected scheme://host"),
            ("ftp://example.com", "scheme 'ftp'"),
            ("https://example.com/path", "a path is not allowed"),
            ("https://ex*ample.com", "wildcard"),
            ("https://example.com:http", "is not a port"),
            ("https://example.com:9..3", "is empty"),
            ("https://[::1", "unclosed"),
            ("http://self", "'self' is not supported"),
            ("https://bad name", "not a host name"),
        ] {
            let error = OutboundHosts::parse(&[entry]).unwrap_err();
            assert_eq!(error.entry, entry);
            assert!(error.to_string().contains(expected), "{entry}: {error}");
        }
        // A trailing slash is fine.
        assert!(hosts(&["http://127.0.0.1:4566/"]).allows("http", "127.0.0.1", 4566));
    }
}
