//! The Helm chart, rendered by the real `helm` and checked as a cluster
//! would check it: `helm lint --strict`, the manifests validated offline
//! against Kubernetes 1.34's schemas (`kubernetes-validate --strict`), the
//! chart's promises (HA, locked down, probes, PDBs, ports) as invariants
//! over what it renders, every variable it sets accepted by the binary
//! (`map <role> --check-config`), bad values refused by name and without
//! echoing a secret, and the image's binary linked only against glibc.
#![allow(clippy::unwrap_used)]

mod chart;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use chart::{Container, Secrets, containers, id, of_kind, render, render_ok, strings};
use serde_json::{Value, json};

/// The Kubernetes release the manifests are validated against.
const KUBERNETES: &str = "1.34.0";

fn production_values() -> PathBuf {
    chart::chart_dir().join("examples/production-values.yaml")
}

/// The renders every invariant is checked on: the defaults with the
/// secrets a user gives, the production example (an existing Secret), and
/// TLS on every hop.
fn renders(helm: &Path, dir: &Path) -> Vec<(&'static str, Vec<Value>)> {
    let secrets = Secrets::well_formed();
    let with_secrets = secrets.values_file(dir, json!({}));
    let with_tls = secrets.values_file(dir, json!({"tls": {"enabled": true}}));
    vec![
        ("defaults", render_ok(helm, &[&with_secrets])),
        (
            "production example",
            render_ok(helm, &[&production_values()]),
        ),
        ("TLS on", render_ok(helm, &[&with_tls])),
    ]
}

#[test]
fn helm_lint_passes_strictly_with_the_defaults_and_the_production_example() {
    let Some(helm) = chart::helm() else {
        return;
    };
    for values in [None, Some(production_values())] {
        let mut cmd = Command::new(&helm);
        cmd.args(["lint", "--strict"]).arg(chart::chart_dir());
        if let Some(v) = &values {
            cmd.arg("-f").arg(v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "helm lint --strict {values:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_rendered_manifest_is_valid_against_the_kubernetes_schemas() {
    let (Some(helm), Some(validate)) =
        (chart::helm(), map_kit::testing::tool("kubernetes-validate"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_ingress = Secrets::well_formed().values_file(
        dir.path(),
        json!({"ingress": {"enabled": true, "tlsSecret": "map-tls"}, "tls": {"existingSecret": "map-grpc-tls"}}),
    );
    let mut sets = renders(&helm, dir.path());
    sets.push(("defaults alone", render_ok(&helm, &[])));
    sets.push(("ingress and TLS", render_ok(&helm, &[&with_ingress])));
    for (name, docs) in sets {
        let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        for kind in [
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "NetworkPolicy",
            "Job",
        ] {
            assert!(
                kinds.contains(kind),
                "{name}: no {kind} rendered ({kinds:?})"
            );
        }
        let file = dir.path().join("rendered.yaml");
        let yaml: Vec<String> = docs
            .iter()
            .map(|d| serde_json::to_string(d).unwrap())
            .collect();
        std::fs::write(&file, yaml.join("\n---\n")).unwrap();
        let out = Command::new(&validate)
            .args(["--strict", "--kubernetes-version", KUBERNETES])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: kubernetes-validate --strict refused the chart:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_container_has_probes_resources_and_a_locked_down_security_context() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, docs) in renders(&helm, dir.path()) {
        let all = containers(&docs);
        assert!(all.len() >= 10, "{name}: only {} containers", all.len());
        for c in all {
            let at = format!("{name}: {}", c.name());
            let resources = &c.spec["resources"];
            assert!(
                resources["requests"]["cpu"].is_string()
                    && resources["requests"]["memory"].is_string(),
                "{at}: no CPU and memory requests"
            );
            assert!(
                resources["limits"]["memory"].is_string(),
                "{at}: no memory limit"
            );
            let sc = &c.spec["securityContext"];
            assert_eq!(sc["runAsNonRoot"], true, "{at}: may run as root");
            assert_eq!(
                sc["readOnlyRootFilesystem"], true,
                "{at}: writable root filesystem"
            );
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}: may escalate");
            assert!(
                strings(&sc["capabilities"]["drop"]).contains(&"ALL".to_owned()),
                "{at}: keeps capabilities"
            );
            assert_eq!(
                sc["seccompProfile"]["type"], "RuntimeDefault",
                "{at}: no seccomp"
            );
            let pod = c.pod();
            assert_eq!(
                pod["automountServiceAccountToken"], false,
                "{at}: mounts a token"
            );
            assert_eq!(
                pod["securityContext"]["runAsNonRoot"], true,
                "{at}: pod may run as root"
            );
            if c.init || c.owner["kind"] == "Job" {
                continue;
            }
            let ports: Vec<u64> = c.ports().iter().map(|p| p.0).collect();
            for (probe, service) in [("readinessProbe", ""), ("livenessProbe", "liveness")] {
                let grpc = &c.spec[probe]["grpc"];
                assert_eq!(
                    grpc["service"], service,
                    "{at}: {probe} checks the wrong service"
                );
                let port = grpc["port"].as_u64().unwrap_or(0);
                assert!(
                    ports.contains(&port),
                    "{at}: {probe} on {port}, not a container port ({ports:?})"
                );
            }
            // The drain must end before the kubelet's SIGKILL.
            let env: BTreeMap<String, String> = c.spec["env"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    Some((
                        e["name"].as_str()?.to_owned(),
                        e["value"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            let drain: u64 = env
                .get("MAP_SHUTDOWN_GRACE")
                .and_then(|g| g.strip_suffix('s'))
                .and_then(|g| g.parse().ok())
                .unwrap_or_else(|| panic!("{at}: no MAP_SHUTDOWN_GRACE in seconds"));
            let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
            assert!(
                grace > drain,
                "{at}: termination grace {grace}s ≤ drain {drain}s"
            );
        }
    }
}

#[test]
fn every_deployment_is_highly_available_covered_by_a_pdb_and_spread() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, docs) in renders(&helm, dir.path()) {
        let pdbs: Vec<&Value> = of_kind(&docs, "PodDisruptionBudget").collect();
        let hpas: Vec<&Value> = of_kind(&docs, "HorizontalPodAutoscaler").collect();
        for d in of_kind(&docs, "Deployment") {
            let at = format!("{name}: {}", id(d));
            let labels = &d["spec"]["template"]["metadata"]["labels"];
            assert!(
                pdbs.iter()
                    .any(|p| selects(&p["spec"]["selector"]["matchLabels"], labels)),
                "{at}: no PodDisruptionBudget covers it"
            );
            let hpa = hpas
                .iter()
                .find(|h| h["spec"]["scaleTargetRef"]["name"] == d["metadata"]["name"]);
            let replicas = match hpa {
                Some(h) => h["spec"]["minReplicas"].as_u64().unwrap_or(1),
                None => d["spec"]["replicas"].as_u64().unwrap_or(1),
            };
            assert!(replicas >= 2, "{at}: {replicas} replica(s)");
            let component =
                d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
                    .as_str()
                    .unwrap_or("");
            if component != "worker" {
                assert!(hpa.is_some(), "{at}: no HorizontalPodAutoscaler");
            }
            let keys: Vec<&str> = d["spec"]["template"]["spec"]["topologySpreadConstraints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["topologyKey"].as_str())
                .collect();
            for key in ["kubernetes.io/hostname", "topology.kubernetes.io/zone"] {
                assert!(keys.contains(&key), "{at}: not spread over {key}");
            }
        }
    }
}

#[test]
fn every_service_port_reaches_a_declared_container_port() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, docs) in renders(&helm, dir.path()) {
        let services: Vec<&Value> = of_kind(&docs, "Service").collect();
        assert!(!services.is_empty(), "{name}: no Service");
        for svc in services {
            let at = format!("{name}: {}", id(svc));
            let selector = &svc["spec"]["selector"];
            let targets: Vec<Container<'_>> = containers(&docs)
                .into_iter()
                .filter(|c| !c.init && c.owner["kind"] == "Deployment")
                .filter(|c| selects(selector, &c.owner["spec"]["template"]["metadata"]["labels"]))
                .collect();
            assert!(!targets.is_empty(), "{at}: selects no Deployment's pods");
            for port in svc["spec"]["ports"].as_array().into_iter().flatten() {
                let target = if port["targetPort"].is_null() {
                    &port["port"]
                } else {
                    &port["targetPort"]
                };
                for c in &targets {
                    let declared = c.ports();
                    let found = declared.iter().any(|(number, pname)| match target {
                        Value::Number(n) => n.as_u64() == Some(*number),
                        Value::String(s) => s == pname,
                        _ => false,
                    });
                    assert!(
                        found,
                        "{at}: port {target} is not declared by {} ({declared:?})",
                        c.name()
                    );
                }
            }
        }
    }
}

#[test]
fn every_variable_the_chart_sets_is_accepted_by_the_binary() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::well_formed();
    let with_secrets = secrets.values_file(dir.path(), json!({}));
    let defaults = render_ok(&helm, &[&with_secrets]);
    let production = render_ok(&helm, &[&production_values()]);
    // TLS on every hop: the files of each component's Secret, made here.
    let with_tls = secrets.values_file(dir.path(), json!({"tls": {"enabled": true}}));
    let tls = render_ok(&helm, &[&with_tls]);
    let tls_files = chart::tls_secrets(dir.path());
    let checks = [
        ("defaults", &defaults, chart::secret_data(&defaults)),
        ("production example", &production, secrets.as_secret_data()),
        ("TLS on", &tls, chart::secret_data(&tls)),
    ];
    let mut checked = 0;
    for (name, docs, secret) in &checks {
        for c in containers(docs) {
            let env = c.local_env(secret, &tls_files);
            assert!(
                env.iter().all(|(k, _)| k.starts_with("MAP_")),
                "{name}: {} sets a variable the binary does not read: {env:?}",
                c.name()
            );
            let out = check_config(&c.args(), &env);
            assert!(
                out.status.success(),
                "{name}: `map {} --check-config` refused {}'s environment:\n{}",
                c.args().join(" "),
                c.name(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} containers checked");

    // The check can fail: without its database URL a system names the variable.
    let api = containers(&defaults)
        .into_iter()
        .find(|c| c.args() == ["serve", "tts"])
        .unwrap();
    let env: Vec<(String, String)> = api
        .env(&checks[0].2)
        .into_iter()
        .filter(|(k, _)| k != "MAP_DATABASE_URL")
        .collect();
    let out = check_config(&api.args(), &env);
    assert!(!out.status.success(), "accepted without MAP_DATABASE_URL");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MAP_DATABASE_URL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `map <args> --check-config` with exactly `env` (cluster addresses made local).
fn check_config(args: &[String], env: &[(String, String)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_map"))
        .args(args)
        .arg("--check-config")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, chart::local(v))))
        .output()
        .unwrap()
}

#[test]
fn bad_values_are_refused_by_name_without_echoing_a_secret() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let dir = chart::chart_dir().join("tests/bad-values");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 12, "only {} bad values files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = text
            .lines()
            .find_map(|l| l.strip_prefix("# refused: "))
            .unwrap_or_else(|| panic!("{}: no `# refused:` line", file.display()));
        let refusal = match render(&helm, &[&file]) {
            Ok(_) => panic!("{} was accepted", file.display()),
            Err(e) => e,
        };
        assert!(
            refusal.contains(expected),
            "{}: expected {expected:?} in\n{refusal}",
            file.display()
        );
        let values: Value = serde_saphyr::from_str(&text).unwrap();
        for secret in secret_strings(&values) {
            assert!(
                !refusal.contains(&secret),
                "{}: the refusal echoes the secret value:\n{refusal}",
                file.display()
            );
        }
    }
}

/// The string values under the keys that hold secrets.
fn secret_strings(values: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut collect = |v: &Value| walk(v, &mut out);
    collect(&values["secrets"]);
    collect(&values["rabbitmq"]["url"]);
    collect(&values["bootstrap"]["password"]);
    out
}

fn walk(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::Object(m) => m.values().for_each(|v| walk(v, out)),
        Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

#[test]
fn the_binary_the_image_carries_links_only_against_glibc() {
    let Some(ldd) = map_kit::testing::tool("ldd") else {
        return;
    };
    // The release binary the Dockerfile copies links the same libraries as
    // this one: linking does not depend on the profile.
    let out = Command::new(ldd)
        .arg(env!("CARGO_BIN_EXE_map"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    let allowed = ["linux-vdso.so.1", "libc.so.6", "libm.so.6", "libgcc_s.so.1"];
    let mut libraries = 0;
    for line in listing.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let lib = line.split_whitespace().next().unwrap();
        let loader = lib.contains("/ld-linux") || lib.starts_with("ld-linux");
        assert!(
            loader || allowed.contains(&lib),
            "the binary links {lib}, which the distroless runtime image may lack:\n{listing}"
        );
        libraries += 1;
    }
    assert!(libraries >= 3, "ldd listed too little:\n{listing}");
}

/// Whether a `matchLabels` selector selects pods labelled `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

#[test]
fn the_chart_readme_lists_every_value() {
    let chart = chart::chart_dir();
    let readme = std::fs::read_to_string(chart.join("README.md")).unwrap();
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap())
            .unwrap();
    let mut paths = Vec::new();
    value_paths(&values, &mut Vec::new(), &mut paths);
    assert!(paths.len() > 50, "only {} values found", paths.len());
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !readme.contains(&format!("`{p}")))
        .collect();
    assert!(
        missing.is_empty(),
        "helm/map-platform/README.md does not list {missing:?}"
    );
}

/// Every value's dotted path; a system's name stands as `<system>` under
/// `systems` and is dropped elsewhere (`secrets.apiKeys.tts` is listed as
/// `secrets.apiKeys.ams` … `.hdts`); maps that are passed through whole
/// (resources, security contexts, labels) are one value.
fn value_paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<String>) {
    const WHOLE: [&str; 6] = [
        "resources",
        "annotations",
        "podSecurityContext",
        "securityContext",
        "namespaceLabels",
        "podLabels",
    ];
    let whole = at.last().is_some_and(|k| WHOLE.contains(&k.as_str()));
    match v.as_object() {
        Some(map) if !map.is_empty() && !whole => {
            for (k, v) in map {
                let key = if at.last().is_some_and(|p| p == "systems") {
                    "<system>".to_owned()
                } else {
                    k.clone()
                };
                at.push(key);
                value_paths(v, at, out);
                at.pop();
            }
        }
        _ => {
            let mut path = at.clone();
            if path.len() > 1 && chart::SYSTEMS.contains(&path[path.len() - 1].as_str()) {
                path.pop();
            }
            let path = path.join(".");
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
}

#[test]
fn with_tls_and_cert_manager_every_certificate_carries_the_names_its_callers_dial() {
    let Some(helm) = chart::helm() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let values = Secrets::well_formed().values_file(
        dir.path(),
        json!({"tls": {"enabled": true, "certManager": {"enabled": true, "issuerRef": {"name": "map-ca"}}}}),
    );
    let docs = render_ok(&helm, &[&values]);
    let certificates: BTreeMap<String, &Value> = of_kind(&docs, "Certificate")
        .map(|c| (c["spec"]["secretName"].as_str().unwrap().to_owned(), c))
        .collect();
    assert_eq!(
        certificates.len(),
        chart::TLS_COMPONENTS.len(),
        "{certificates:?}"
    );
    let host = |url: &str| {
        let rest = url.split_once("://").unwrap().1;
        rest[..rest.find(':').unwrap()].to_owned()
    };
    // Every pod mounts a Secret a Certificate writes, and every host a
    // container dials over TLS is a name of the Secret of the pod it reaches.
    let mut dialled = 0;
    for c in containers(&docs).iter().filter(|c| !c.init) {
        for (_, secret) in c.secret_mounts() {
            assert!(certificates.contains_key(&secret), "{}: {secret}", c.name());
        }
        for (k, v) in c.env(&chart::secret_data(&docs)) {
            let target = match k.strip_prefix("MAP_UPSTREAM_") {
                _ if k == "MAP_AUTH_URL" => "auth".to_owned(),
                Some(system) if chart::SYSTEMS.contains(&system.to_lowercase().as_str()) => {
                    system.to_lowercase()
                }
                _ => continue,
            };
            assert!(
                v.starts_with("https://") || v.starts_with("dns+tls://"),
                "{k}={v}"
            );
            let secret = format!("{}-{target}-tls", chart::FULLNAME);
            let names = strings(&certificates[&secret]["spec"]["dnsNames"]);
            assert!(
                names.contains(&host(&v)),
                "{k}={v}: {secret} carries {names:?}"
            );
            assert_eq!(
                certificates[&secret]["spec"]["issuerRef"]["name"], "map-ca",
                "{secret}"
            );
            dialled += 1;
        }
    }
    // The gateway's five upstreams, and Auth from four APIs and four workers.
    assert_eq!(dialled, 5 + 8);
    // Without an issuer the chart says which value is missing.
    let no_issuer = Secrets::well_formed().values_file(
        dir.path(),
        json!({"tls": {"enabled": true, "certManager": {"enabled": true}}}),
    );
    let refused = render(&helm, &[&no_issuer]).unwrap_err();
    assert!(
        refused.contains("tls.certManager.issuerRef.name"),
        "{refused}"
    );
}
