//! The library's [`Transport`] over wasi:http (waki's blocking client).

use std::time::Duration;

use logport_consumer::Transport;

#[derive(Debug)]
pub struct WasiHttp {
    timeout: Duration,
}

impl WasiHttp {
    pub fn new(timeout: Duration) -> Self {
        WasiHttp { timeout }
    }
}

impl Transport for WasiHttp {
    fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, String> {
        use waki::Method;
        let (parts, body) = request.into_parts();
        let method = match parts.method {
            http::Method::GET => Method::Get,
            http::Method::POST => Method::Post,
            http::Method::PUT => Method::Put,
            http::Method::DELETE => Method::Delete,
            http::Method::HEAD => Method::Head,
            ref other => return Err(format!("method {other} is not used by the consumer")),
        };
        let mut builder = waki::Client::new().request(method, &parts.uri.to_string()).connect_timeout(self.timeout);
        for (name, value) in &parts.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if !body.is_empty() {
            builder = builder.body(body);
        }
        let answer = builder.send().map_err(|error| error.to_string())?;
        let status = answer.status_code();
        let headers = answer.headers().clone();
        let body = answer.body().map_err(|error| error.to_string())?;
        let mut response = http::Response::builder().status(status).body(body).map_err(|error| error.to_string())?;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
