//! The tonic side of uploads: [`UploadApi`] answers the three calls of
//! `map/common/v1/upload.proto` for one system, and
//! [`upload_service!`](crate::upload_service) implements that system's
//! generated `UploadService` trait over it. Every system's trait has the
//! same methods and messages (they are `map.common.v1`'s), but each
//! package generates its own trait: the macro keeps their implementations
//! from being copies.

use map_contracts::common::v1 as pb;
use tonic::{Request, Response, Status};

use super::{Uploads, to_proto};
use crate::authn;

/// The handlers of a system's UploadService. The caller (the
/// authentication layer's principal) is the uploader.
#[derive(Debug, Clone)]
pub struct UploadApi {
    uploads: Uploads,
}

impl UploadApi {
    /// Handlers over `uploads`.
    pub fn new(uploads: Uploads) -> UploadApi {
        UploadApi { uploads }
    }

    fn status(&self, e: super::UploadError) -> Status {
        e.into_api(self.uploads.system()).into()
    }

    /// StartUpload.
    pub async fn start_upload(
        &self,
        request: Request<pb::StartUploadRequest>,
    ) -> Result<Response<pb::StartUploadResponse>, Status> {
        let caller = authn::principal(&request)?;
        let r = request.into_inner();
        let upload = self
            .uploads
            .start(&caller.id, &r.file_name, &r.content_type, r.size_bytes)
            .await
            .map_err(|e| self.status(e))?;
        Ok(Response::new(pb::StartUploadResponse {
            upload: Some(to_proto(&upload)),
        }))
    }

    /// AppendUploadChunk.
    pub async fn append_upload_chunk(
        &self,
        request: Request<pb::AppendUploadChunkRequest>,
    ) -> Result<Response<pb::AppendUploadChunkResponse>, Status> {
        let caller = authn::principal(&request)?;
        let r = request.into_inner();
        let upload = self
            .uploads
            .append(&caller.id, &r.upload_id, r.offset, &r.data)
            .await
            .map_err(|e| self.status(e))?;
        Ok(Response::new(pb::AppendUploadChunkResponse {
            upload: Some(to_proto(&upload)),
        }))
    }

    /// CompleteUpload.
    pub async fn complete_upload(
        &self,
        request: Request<pb::CompleteUploadRequest>,
    ) -> Result<Response<pb::CompleteUploadResponse>, Status> {
        let caller = authn::principal(&request)?;
        let r = request.into_inner();
        let upload = self
            .uploads
            .complete(&caller.id, &r.upload_id, &r.sha256)
            .await
            .map_err(|e| self.status(e))?;
        Ok(Response::new(pb::CompleteUploadResponse {
            file: Some(self.uploads.file_ref(&upload.id)),
            upload: Some(to_proto(&upload)),
        }))
    }
}

/// Declares `$name`, a system's UploadService handlers: a newtype over
/// [`UploadApi`](crate::uploads::UploadApi) implementing the generated
/// trait `$service` (e.g.
/// `map_contracts::hdts::v1::upload_service_server::UploadService`). A
/// type of the system's own crate, so the system may implement a trait of
/// the contracts for it.
///
/// ```ignore
/// map_kit::upload_service!(
///     /// `map.hdts.v1.UploadService`.
///     pub HdtsUploadApi: map_contracts::hdts::v1::upload_service_server::UploadService
/// );
/// let service = UploadServiceServer::new(HdtsUploadApi(UploadApi::new(uploads)));
/// ```
#[macro_export]
macro_rules! upload_service {
    ($(#[$doc:meta])* $vis:vis $name:ident : $service:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        $vis struct $name(pub $crate::uploads::UploadApi);

        #[$crate::uploads::__private::async_trait]
        impl $service for $name {
            async fn start_upload(
                &self,
                request: $crate::uploads::__private::Request<
                    $crate::uploads::__private::pb::StartUploadRequest,
                >,
            ) -> ::core::result::Result<
                $crate::uploads::__private::Response<
                    $crate::uploads::__private::pb::StartUploadResponse,
                >,
                $crate::uploads::__private::Status,
            > {
                self.0.start_upload(request).await
            }

            async fn append_upload_chunk(
                &self,
                request: $crate::uploads::__private::Request<
                    $crate::uploads::__private::pb::AppendUploadChunkRequest,
                >,
            ) -> ::core::result::Result<
                $crate::uploads::__private::Response<
                    $crate::uploads::__private::pb::AppendUploadChunkResponse,
                >,
                $crate::uploads::__private::Status,
            > {
                self.0.append_upload_chunk(request).await
            }

            async fn complete_upload(
                &self,
                request: $crate::uploads::__private::Request<
                    $crate::uploads::__private::pb::CompleteUploadRequest,
                >,
            ) -> ::core::result::Result<
                $crate::uploads::__private::Response<
                    $crate::uploads::__private::pb::CompleteUploadResponse,
                >,
                $crate::uploads::__private::Status,
            > {
                self.0.complete_upload(request).await
            }
        }
    };
}
