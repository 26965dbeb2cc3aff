//! The repository's spin.toml: it parses, names the component crates it routes to, routes every
//! SLS path to a component that answers it, and declares the variables the components read.

use std::path::{Path, PathBuf};

use logport_wasm_host::manifest::Manifest;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest() -> Manifest {
    Manifest::read(&repo().join("spin.toml")).expect("spin.toml parses")
}

#[test]
fn components_are_the_crates_in_components() {
    let manifest = manifest();
    assert_eq!(manifest.component.keys().collect::<Vec<_>>(), ["ingest", "pull", "query"]);
    for (id, component) in &manifest.component {
        let crate_dir = repo().join("components").join(id);
        let cargo = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("the component crate");
        assert!(cargo.contains(&format!("name = \"logport-component-{id}\"")), "{id}");
        let file = format!("logport_component_{id}.wasm");
        assert_eq!(component.source, Path::new("target/wasm32-wasip2/release-wasm").join(&file), "{id}");
        let built = std::env::var_os("LOGPORT_WASM_COMPONENTS").map(|dir| PathBuf::from(dir).join(&file));
        if let Some(built) = built.filter(|_| id != "query" && std::env::var("LOGPORT_REQUIRE_WASM").is_ok()) {
            assert!(built.exists(), "{} is not built", built.display());
        }
    }
}

#[test]
fn every_sls_path_reaches_a_component_that_answers_it() {
    let manifest = manifest();
    // (path, the component: ingest and pull answer everything but queries, query everything)
    let cases = [
        ("/", "ingest"),                                   // ListProject, CreateProject, GetProject
        ("/logstores", "ingest"),                          // ListLogStores, CreateLogstore
        ("/logstores/web", "query"),                       // GetLogstore, Update, Delete, GetLogs v1, histograms
        ("/logstores/web/logs", "query"),                  // GetLogs v2
        ("/logstores/web/shards", "pull"),                 // ListShards
        ("/logstores/web/shards/lb", "pull"),              // PutLogs
        ("/logstores/web/shards/route", "pull"),           // PutLogs by hash key
        ("/logstores/web/shards/0", "pull"),               // cursors, PullLogs
        ("/logstores/web/shipper/s1", "ingest"),           // shipper calls (not in the components: 404)
        ("/logstores/web/shards/0/anything/else", "pull"), // unknown, still answered (404 by the API)
    ];
    for (path, component) in cases {
        assert_eq!(manifest.route(path), Some(component), "{path}");
    }
}

#[test]
fn declares_the_variables_the_components_read() {
    let manifest = manifest();
    for required in ["s3_bucket", "dynamodb_table", "aws_access_key_id", "aws_secret_access_key"] {
        assert!(manifest.variables[required].required, "{required}");
    }
    let values = manifest
        .resolve_variables(|name| {
            let known = ["S3_BUCKET", "DYNAMODB_TABLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
            known.iter().any(|k| name == format!("SPIN_VARIABLE_{k}")).then(|| format!("{name}-value"))
        })
        .unwrap();
    for id in manifest.component.keys() {
        let env = manifest.environment(id, &values);
        let get = |name: &str| env.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        assert_eq!(get("LOGPORT_S3_BUCKET"), Some("SPIN_VARIABLE_S3_BUCKET-value"), "{id}");
        assert_eq!(get("LOGPORT_DYNAMODB_TABLE"), Some("SPIN_VARIABLE_DYNAMODB_TABLE-value"), "{id}");
        assert_eq!(get("AWS_REGION"), Some("us-east-1"), "{id}");
        assert_eq!(get("LOGPORT_INSECURE_NO_AUTH"), Some("false"), "{id}");
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LOGPORT_ACCESS_KEY_ID", "LOGPORT_S3_PREFIX"] {
            assert!(get(name).is_some(), "{id} lacks {name}");
        }
    }
    assert!(manifest.resolve_variables(|_| None).is_err(), "the store's variables are required");
}

#[test]
fn components_reach_aws_and_the_configured_endpoint_only() {
    let manifest = manifest();
    let required = |name: &str| {
        let known = ["S3_BUCKET", "DYNAMODB_TABLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
        known.iter().any(|k| name == format!("SPIN_VARIABLE_{k}")).then(|| "x".to_owned())
    };
    let on_aws = manifest.resolve_variables(required).unwrap();
    let local = manifest
        .resolve_variables(|name| match name {
            "SPIN_VARIABLE_AWS_ENDPOINT" => Some("http://127.0.0.1:5000".to_owned()),
            _ => required(name),
        })
        .unwrap();
    for id in manifest.component.keys() {
        let hosts = manifest.outbound_hosts(id, &on_aws).unwrap();
        assert!(hosts.allows("https", "s3.us-east-1.amazonaws.com", 443), "{id}");
        assert!(hosts.allows("https", "logs.s3.eu-west-1.amazonaws.com", 443), "{id}");
        assert!(hosts.allows("https", "dynamodb.us-east-1.amazonaws.com", 443), "{id}");
        assert!(!hosts.allows("http", "127.0.0.1", 5000), "{id}: no endpoint configured");
        assert!(!hosts.allows("https", "example.com", 443), "{id}");
        assert!(!hosts.allows("http", "169.254.169.254", 80), "{id}: instance metadata");
        let hosts = manifest.outbound_hosts(id, &local).unwrap();
        assert!(hosts.allows("http", "127.0.0.1", 5000), "{id}");
        assert!(!hosts.allows("http", "127.0.0.1", 5001), "{id}");
    }
}
