//! HDTS's domain errors: map-kit's kinds (see `map_kit::domain_error`),
//! turned into gRPC statuses with `google.rpc` details in the `map.hdts`
//! domain; none carries a secret.

map_kit::domain_error!(
    /// What can go wrong in HDTS.
    pub HdtsError,
    map_kit::System::Hdts
);

pub(crate) use map_kit::db::is_unique_violation;
