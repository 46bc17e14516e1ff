//! Compiles `proto/` into Rust with tonic-prost-build, without a system `protoc`:
//! protox parses the files into a descriptor set in pure Rust, the same set is
//! written to `OUT_DIR` so the crate can export it for reflection and the gateway.

use std::{
    env, fs, io,
    path::{Path, PathBuf},
};

use prost::Message as _;

const PROTO_ROOT: &str = "proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    collect_protos(&Path::new(PROTO_ROOT).join("map"), &mut files)?;
    // Vendored Google types (`google.type.Date`), generated on their own below.
    let mut google = Vec::new();
    collect_protos(&Path::new(PROTO_ROOT).join("google"), &mut google)?;
    google.sort();
    files.extend(google.iter().cloned());
    files.sort();
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let fds = protox::compile(&files, [PROTO_ROOT])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("map_descriptor.bin"), fds.encode_to_vec())?;

    // Cargo features reach build scripts as environment variables, not cfg.
    let client = env::var_os("CARGO_FEATURE_CLIENT").is_some();
    let server = env::var_os("CARGO_FEATURE_SERVER").is_some();
    // `prost::Name` on every message, so events travel as `google.protobuf.Any`
    // with the usual `type.googleapis.com/<full name>` type URL.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    config.type_name_domain(["."], "type.googleapis.com");
    // The crate drops the `map` level of the packages (`crate::ams::v1`), so relative
    // paths from `map.*` to `google.type` would climb one level too many: pin them
    // and generate `google.type` in a pass of its own (messages only). prost re-escapes
    // each segment of a package path it extends (`r#type` would come out as `r_type`)
    // but copies the path of an exact type verbatim, so each vendored type is named.
    config.extern_path(".google.type.Date", "crate::google::r#type::Date");
    let mut google_config = prost_build::Config::new();
    google_config.enable_type_names();
    google_config.type_name_domain(["."], "type.googleapis.com");
    google_config.compile_fds(protox::compile(&google, [PROTO_ROOT])?)?;
    tonic_prost_build::configure()
        .build_client(client)
        .build_server(server)
        .build_transport(client)
        .emit_rerun_if_changed(false)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            // protox resolves files relative to the include root.
            out.push(
                path.strip_prefix(PROTO_ROOT)
                    .map(Path::to_path_buf)
                    .unwrap_or(path),
            );
        }
    }
    Ok(())
}
