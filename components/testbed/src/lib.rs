//! The HTTP test component: `GET /alloc?mib=N` touches N MiB of fresh memory, `GET /spin?ms=N`
//! computes for N ms, `GET /env?name=X` answers variable X, `GET /fetch?url=U` GETs U (outgoing
//! wasi:http) and answers `fetched <status> <body>` or 502 `refused: <error>`; anything else
//! answers `ok`.

/// The query parameter `name` as a number.
pub fn number(query: &str, name: &str) -> Option<u64> {
    query.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name)?.1.parse().ok()
}

/// Touches `mib` MiB of fresh memory; returns a value that depends on all of it.
pub fn allocate(mib: u64) -> u64 {
    let mut block = vec![0u8; (mib as usize) << 20];
    for (index, byte) in block.iter_mut().enumerate().step_by(4096) {
        *byte = index as u8 | 1;
    }
    block.iter().step_by(4096).map(|&byte| u64::from(byte)).sum()
}

/// Computes for `ms` milliseconds.
pub fn spin(ms: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut value = 0u64;
    while start.elapsed().as_millis() < u128::from(ms) {
        value = value.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    }
    value
}

#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
async fn handle(request: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let (path, query) = (request.path().to_owned(), request.query().to_owned());
    let body = match path.as_str() {
        "/fetch" => {
            let url = query.strip_prefix("url=").unwrap_or_default();
            let outgoing = spin_sdk::http::Request::get(url).build();
            return match spin_sdk::http::send::<_, spin_sdk::http::Response>(outgoing).await {
                Ok(response) => spin_sdk::http::Response::new(
                    200,
                    format!("fetched {} {}", response.status(), String::from_utf8_lossy(response.body())),
                ),
                Err(error) => spin_sdk::http::Response::new(502, format!("refused: {error:?}")),
            };
        }
        "/alloc" => format!("allocated {}", allocate(number(&query, "mib").unwrap_or(1))),
        "/spin" => format!("computed {}", spin(number(&query, "ms").unwrap_or(1))),
        "/env" => {
            let name = query.strip_prefix("name=").unwrap_or_default();
            std::env::var(name).unwrap_or_default()
        }
        _ => "ok".to_owned(),
    };
    spin_sdk::http::Response::new(200, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_uses_resources() {
        assert_eq!(number("a=1&mib=12", "mib"), Some(12));
        assert_eq!(number("mib=x", "mib"), None);
        assert_eq!(allocate(1), 256);
        spin(1);
    }
}
