//! `map.hdts.v1.UploadService`: the kit's upload handlers over HDTS's
//! uploads. Who may call it is `policy::UPLOAD_SERVICE`.

map_kit::upload_service!(
    /// The handlers of `map.hdts.v1.UploadService`.
    pub HdtsUploadApi: map_contracts::hdts::v1::upload_service_server::UploadService
);
