//! TTS's domain errors: map-kit's kinds (see `map_kit::domain_error`),
//! turned into gRPC statuses with `google.rpc` details in the `map.tts`
//! domain; none carries a secret.

map_kit::domain_error!(
    /// What can go wrong in TTS.
    pub TtsError,
    map_kit::System::Tts
);

pub(crate) use map_kit::db::is_unique_violation;
