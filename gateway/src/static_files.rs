//! Static files (the web console) with single-page-application fallback:
//! a path that names no file is answered with `index.html`, so client-side
//! routes survive a reload. One origin carries the page and the API.

use std::{convert::Infallible, path::Path};

use http::{Request, Response, StatusCode};
use tonic::body::Body;
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};

/// The static site.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    dir: ServeDir<ServeFile>,
}

impl StaticFiles {
    /// Serves `root`, falling back to `root/index.html`.
    pub fn new(root: &Path) -> StaticFiles {
        StaticFiles {
            dir: ServeDir::new(root)
                .append_index_html_on_directories(true)
                .fallback(ServeFile::new(root.join("index.html"))),
        }
    }

    /// Answers a GET or HEAD.
    pub async fn serve(&self, request: Request<Body>) -> Response<Body> {
        let result: Result<_, Infallible> = self.dir.clone().oneshot(request).await;
        match result {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        }
    }
}

/// The answer to a non-gRPC request when no static directory is configured.
pub fn not_found() -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
