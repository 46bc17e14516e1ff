//! BMS's domain errors: map-kit's kinds (see `map_kit::domain_error`),
//! turned into gRPC statuses with `google.rpc` details in the `map.bms`
//! domain; none carries a secret.

map_kit::domain_error!(
    /// What can go wrong in BMS.
    pub BmsError,
    map_kit::System::Bms
);
