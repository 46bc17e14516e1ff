//! sea-orm entities of the auth database (tables created by
//! `map_migrations::auth`). `login_attempts` and `round_robin_cursors` are
//! only touched with single SQL statements, so they have no entity.

pub mod api_key_roles;
pub mod api_keys;
pub mod departments;
pub mod refresh_tokens;
pub mod roles;
pub mod sessions;
pub mod systems;
pub mod user_roles;
pub mod users;
