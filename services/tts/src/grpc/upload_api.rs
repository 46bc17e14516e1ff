//! `map.tts.v1.UploadService`: the kit's upload handlers over TTS's
//! uploads. Who may call it is `policy::UPLOAD_SERVICE`.

map_kit::upload_service!(
    /// The handlers of `map.tts.v1.UploadService`.
    pub TtsUploadApi: map_contracts::tts::v1::upload_service_server::UploadService
);
