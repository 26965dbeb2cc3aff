//! `logport-console` is Logport's web console: plain files (HTML, CSS, ES modules, no build
//! step) embedded in the binary with `include_bytes!` and served under [`PREFIX`]. The console
//! talks to the same SLS HTTP API as the SDKs, signing each request in the browser (version 4,
//! WebCrypto HMAC-SHA256) with a key the user enters; the server side is only this file server.
//!
//! `/console` is not an SLS path (those are `/`, `/logstores...`), so a transport can ask
//! [`serve`] first and hand every request it declines to the API.

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header, request::Parts};

/// Where the console lives.
pub const PREFIX: &str = "/console/";

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Path below [`PREFIX`].
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, content_type: $type, body: include_bytes!(concat!("../assets/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ui.js", JS),
    asset!("chart.js", JS),
    asset!("search.js", JS),
    asset!("shipper.js", JS),
    asset!("stores.js", JS),
    asset!("agents.js", JS),
];

/// The embedded file at `path` (`/console/app.js`; `/console/` is `index.html`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let name = path.strip_prefix(PREFIX)?;
    let name = if name.is_empty() { "index.html" } else { name };
    ASSETS.iter().find(|asset| asset.name == name)
}

/// The console's answer to a request, or `None` when the request is for the API.
///
/// - `GET|HEAD /console/<file>`: the file; an unknown file is a plain 404.
/// - `GET /console`: a redirect to `/console/` (relative module imports need the slash).
/// - `GET /` from a browser (an unsigned request that accepts `text/html` and names no project):
///   a redirect to `/console/`. Every SDK call to `/` is signed or asks for JSON, so it still
///   reaches ListProjects.
pub fn serve(parts: &Parts) -> Option<Response<Bytes>> {
    let path = parts.uri.path();
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    if path == "/" {
        return (get && is_browser_navigation(parts)).then(|| redirect(PREFIX));
    }
    if path == "/console" {
        return Some(if get { redirect(PREFIX) } else { not_allowed() });
    }
    if !path.starts_with(PREFIX) {
        return None;
    }
    if !get {
        return Some(not_allowed());
    }
    let Some(asset) = asset(path) else {
        return Some(plain(StatusCode::NOT_FOUND, "no such console file\n"));
    };
    let body = if parts.method == Method::HEAD { Bytes::new() } else { Bytes::from_static(asset.body) };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    // The files change with the binary: always revalidate (they are small).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Scripts and styles from the console only; requests to this origin only.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    Some(response)
}

fn is_browser_navigation(parts: &Parts) -> bool {
    let headers = &parts.headers;
    let accepts_html = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("text/html"));
    accepts_html
        && !headers.contains_key(header::AUTHORIZATION)
        && !headers.contains_key("x-log-project")
        && parts.uri.query().is_none_or(str::is_empty)
}

fn redirect(to: &'static str) -> Response<Bytes> {
    let mut response = plain(StatusCode::FOUND, "");
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static(to));
    response
}

fn not_allowed() -> Response<Bytes> {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "the console serves GET and HEAD only\n");
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(text.as_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn serves_every_asset_with_its_type() {
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
            let response = serve(&request(Method::GET, &format!("/console/{}", asset.name), &[])).unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(response.body().as_ref(), asset.body);
        }
        let index = serve(&request(Method::GET, "/console/", &[])).unwrap();
        assert!(String::from_utf8_lossy(index.body()).contains("<script type=\"module\" src=\"app.js\">"));
        assert!(index.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let head = serve(&request(Method::HEAD, "/console/app.js", &[])).unwrap();
        assert!(head.body().is_empty());
        assert_eq!(head.headers()[header::CONTENT_LENGTH], asset("/console/app.js").unwrap().body.len().to_string());
    }

    #[test]
    fn every_module_import_names_an_embedded_file() {
        for asset in ASSETS.iter().filter(|asset| asset.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for line in text.lines().filter(|line| line.starts_with("import ")) {
                let target = line.split("'./").nth(1).and_then(|rest| rest.split('\'').next());
                let target = target.unwrap_or_else(|| panic!("{}: unexpected import {line:?}", asset.name));
                assert!(ASSETS.iter().any(|other| other.name == target), "{} imports missing {target}", asset.name);
            }
        }
    }

    #[test]
    fn leaves_api_paths_alone() {
        assert!(serve(&request(Method::GET, "/logstores", &[])).is_none());
        assert!(serve(&request(Method::GET, "/logstores/console", &[("accept", "text/html")])).is_none());
        assert!(serve(&request(Method::GET, "/consoles/x", &[])).is_none());
        // The SDK's ListProjects: JSON, signed.
        assert!(serve(&request(Method::GET, "/", &[("accept", "*/*")])).is_none());
        let signed = [("accept", "text/html"), ("authorization", "LOG a:b")];
        assert!(serve(&request(Method::GET, "/", &signed)).is_none());
        assert!(serve(&request(Method::GET, "/", &[("accept", "text/html"), ("x-log-project", "p")])).is_none());
        assert!(serve(&request(Method::GET, "/?offset=0", &[("accept", "text/html")])).is_none());
        assert!(serve(&request(Method::POST, "/", &[("accept", "text/html")])).is_none());
    }

    #[test]
    fn redirects_browsers_and_refuses_the_rest() {
        let browser = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
        for uri in ["/", "/console"] {
            let response = serve(&request(Method::GET, uri, &browser)).unwrap();
            assert_eq!(response.status(), StatusCode::FOUND);
            assert_eq!(response.headers()[header::LOCATION], "/console/");
        }
        assert_eq!(serve(&request(Method::GET, "/console/nope.js", &[])).unwrap().status(), StatusCode::NOT_FOUND);
        assert_eq!(
            serve(&request(Method::GET, "/console/../Cargo.toml", &[])).unwrap().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(serve(&request(Method::POST, "/console/", &[])).unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
