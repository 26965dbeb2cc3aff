//! Access keys for `logport up`: from flags or the environment, or else a development key
//! generated once per data directory and printed at start.

use std::path::Path;

use anyhow::Context;
use logport_api::auth::AccessKey;
use rand::Rng;
use rand::distr::Alphanumeric;

const DEV_KEY_FILE: &str = "dev-access-key.json";

/// The key to check signatures with: the given one, or the data directory's development key
/// (created on first use). The bool says whether it is a development key.
pub fn resolve(id: Option<String>, secret: Option<String>, data_dir: &Path) -> anyhow::Result<(AccessKey, bool)> {
    if let (Some(id), Some(secret)) = (id, secret) {
        anyhow::ensure!(!id.is_empty() && !secret.is_empty(), "the access key id and secret must not be empty");
        return Ok((AccessKey { id, secret }, false));
    }
    let path = data_dir.join(DEV_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let field = |name: &str| {
            value[name].as_str().map(str::to_owned).with_context(|| format!("{} lacks {name}", path.display()))
        };
        return Ok((AccessKey { id: field("accessKeyId")?, secret: field("accessKeySecret")? }, true));
    }
    let random = |len: usize| rand::rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect::<String>();
    let key = AccessKey { id: format!("LPDEV{}", random(15).to_ascii_uppercase()), secret: random(30) };
    let text = serde_json::json!({"accessKeyId": key.id, "accessKeySecret": key.secret}).to_string();
    write_private(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok((key, true))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
