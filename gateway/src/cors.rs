//! CORS as Envoy's `CorsPolicy` applies it: preflights are answered by the
//! gateway, allowed origins get the `access-control-*` headers on every
//! response, other origins get none.

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use tonic::body::Body;

use crate::config::CorsConfig;

/// Request headers a browser may send (grpc-web's, Connect's and ours).
pub const ALLOW_HEADERS: &str = "content-type,x-grpc-web,x-user-agent,grpc-timeout,\
     connect-protocol-version,connect-timeout-ms,connect-content-encoding,connect-accept-encoding,\
     content-encoding,authorization,x-api-key";
/// Response headers a browser script may read.
pub const EXPOSE_HEADERS: &str = "grpc-status,grpc-message,grpc-status-details-bin";
/// Methods a preflight may ask for.
pub const ALLOW_METHODS: &str = "GET,POST,OPTIONS";
/// How long a browser may cache a preflight, in seconds.
pub const MAX_AGE: &str = "86400";

impl CorsConfig {
    /// The request's `Origin` when it is allowed.
    pub fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        headers
            .get(header::ORIGIN)
            .filter(|origin| self.allows(origin))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        origin
            .to_str()
            .is_ok_and(|text| self.any_origin || self.origins.iter().any(|o| o == text))
    }

    /// Answers a preflight (`OPTIONS` with `Access-Control-Request-Method`);
    /// `None` when the request is not one.
    pub fn preflight<B>(&self, request: &Request<B>) -> Option<Response<Body>> {
        let headers = request.headers();
        if request.method() != Method::OPTIONS
            || !headers.contains_key(header::ORIGIN)
            || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut response = Response::new(Body::empty());
        match self.allowed_origin(headers) {
            Some(origin) => {
                let h = response.headers_mut();
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static(ALLOW_METHODS),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static(ALLOW_HEADERS),
                );
                h.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSE_HEADERS),
                );
                h.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static(MAX_AGE),
                );
                h.insert(header::VARY, HeaderValue::from_static("origin"));
            }
            // Not allowed: no CORS headers, and the browser refuses the call.
            None => *response.status_mut() = StatusCode::FORBIDDEN,
        }
        Some(response)
    }

    /// Adds the CORS headers of an actual (non-preflight) response to a
    /// request that came with `origin`.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
            response.append(header::VARY, HeaderValue::from_static("origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> CorsConfig {
        CorsConfig {
            origins: vec!["https://console.example.com".into()],
            any_origin: false,
        }
    }

    fn preflight(origin: &str) -> Option<Response<Body>> {
        let req = Request::options("/map.auth.v1.AuthService/Login")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(())
            .ok()?;
        cfg().preflight(&req)
    }

    #[test]
    fn allowed_preflight_gets_the_policy() {
        let r = preflight("https://console.example.com");
        let h = r.as_ref().map(|r| (r.status(), r.headers().clone()));
        let (status, h) = h.unwrap_or_default();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.as_bytes()),
            Some(&b"https://console.example.com"[..])
        );
        let allowed = h
            .get(header::ACCESS_CONTROL_ALLOW_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for name in [
            "x-grpc-web",
            "grpc-timeout",
            "connect-protocol-version",
            "connect-timeout-ms",
            "authorization",
            "x-api-key",
        ] {
            assert!(allowed.contains(name), "{name} missing from {allowed}");
        }
    }

    #[test]
    fn other_origins_get_nothing() {
        let r = preflight("https://evil.example.com");
        assert_eq!(
            r.as_ref().map(Response::status),
            Some(StatusCode::FORBIDDEN)
        );
        let any_cors = r.is_some_and(|r| {
            r.headers()
                .keys()
                .any(|k| k.as_str().starts_with("access-control-"))
        });
        assert!(!any_cors);
        let evil = HeaderValue::from_static("https://evil.example.com");
        let mut resp = HeaderMap::new();
        cfg().decorate(Some(&evil), &mut resp);
        assert!(resp.is_empty());
        let good = HeaderValue::from_static("https://console.example.com");
        cfg().decorate(Some(&good), &mut resp);
        assert_eq!(resp.get(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(&good));
    }
}
