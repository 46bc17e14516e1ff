//! `map.ams.v1.UploadService`: the kit's upload handlers over AMS's uploads
//! (CSV files for ImportAssets). Who may call it is
//! `policy::UPLOAD_SERVICE`.

map_kit::upload_service!(
    /// The handlers of `map.ams.v1.UploadService`.
    pub AmsUploadApi: map_contracts::ams::v1::upload_service_server::UploadService
);
