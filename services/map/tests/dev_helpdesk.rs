//! The help desk's whole conversation on `map dev` as a user meets it: one
//! process, SQLite files and the in-process bus, driven through its gateway
//! with grpcurl — the same walk the chart's run test makes across separate
//! processes on PostgreSQL and RabbitMQ (`helpdesk::walk`), then the same
//! asset walk (`assets::walk`).
#![allow(clippy::unwrap_used)]

mod assets;
mod helpdesk;
mod support;

use support::DevPlatform;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_help_desk_conversation_runs_on_map_dev() {
    if map_kit::testing::tool("grpcurl").is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let dev = DevPlatform::start(data.path());
    let password = dev
        .admin_password
        .clone()
        .expect("map dev printed the first admin's password");
    helpdesk::walk(&dev.gateway, "admin@map.local", &password, &|| {
        "(map dev logs to this test's stderr)".to_owned()
    })
    .await;
    assets::walk(&dev.gateway, "admin@map.local", &password, &|| {
        "(map dev logs to this test's stderr)".to_owned()
    })
    .await;
}
