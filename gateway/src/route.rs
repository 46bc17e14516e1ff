//! Which cluster a gRPC path goes to.
//!
//! Two forms are accepted, like the original design's Envoy routes:
//! `/map.tts.v1.TicketService/GetTicket` (by the fully-qualified service
//! name) and `/tts/map.tts.v1.TicketService/GetTicket` (by prefix, which is
//! stripped as Envoy's `prefix_rewrite` does; any service, so
//! `/tts/grpc.health.v1.Health/Check` asks TTS itself). Health and
//! reflection without a prefix are the gateway's own.

use map_kit::System;

/// Where a call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Served by the gateway itself (health, reflection).
    Local,
    /// Forwarded to a system's cluster with this path.
    Upstream {
        /// The owning system.
        system: System,
        /// `/package.Service/Method`, prefix stripped.
        path: String,
    },
    /// No such service: UNIMPLEMENTED.
    Unknown,
}

/// Services the gateway answers itself when no prefix names a system.
const LOCAL_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Routes a request path.
pub fn route(path: &str) -> Route {
    let Some(rest) = path.strip_prefix('/') else {
        return Route::Unknown;
    };
    let mut parts = rest.splitn(3, '/');
    let (Some(first), Some(second)) = (parts.next(), parts.next()) else {
        return Route::Unknown;
    };
    match parts.next() {
        // `/service/method`
        None => {
            if second.is_empty() {
                Route::Unknown
            } else if LOCAL_SERVICES.contains(&first) {
                Route::Local
            } else {
                match System::owning(first) {
                    Some(system) => Route::Upstream {
                        system,
                        path: path.to_owned(),
                    },
                    None => Route::Unknown,
                }
            }
        }
        // `/prefix/service/method`
        Some(method) => match first.parse::<System>() {
            Ok(system) if !second.is_empty() && !method.is_empty() && !method.contains('/') => {
                Route::Upstream {
                    system,
                    path: format!("/{second}/{method}"),
                }
            }
            _ => Route::Unknown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(system: System, path: &str) -> Route {
        Route::Upstream {
            system,
            path: path.to_owned(),
        }
    }

    #[test]
    fn by_service_name() {
        assert_eq!(
            route("/map.tts.v1.TicketService/GetTicket"),
            up(System::Tts, "/map.tts.v1.TicketService/GetTicket")
        );
        assert_eq!(
            route("/map.auth.v1.AuthService/Login"),
            up(System::Auth, "/map.auth.v1.AuthService/Login")
        );
        assert_eq!(route("/grpc.health.v1.Health/Check"), Route::Local);
        assert_eq!(
            route("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
            Route::Local
        );
    }

    #[test]
    fn by_prefix_with_rewrite() {
        assert_eq!(
            route("/tts/map.tts.v1.TicketService/GetTicket"),
            up(System::Tts, "/map.tts.v1.TicketService/GetTicket")
        );
        assert_eq!(
            route("/hdts/grpc.health.v1.Health/Watch"),
            up(System::Hdts, "/grpc.health.v1.Health/Watch")
        );
    }

    #[test]
    fn unknown() {
        for p in [
            "/",
            "",
            "/foo.Bar/Baz",
            "/map.tts.v1x.Foo/Bar",
            "/payroll/map.tts.v1.TicketService/GetTicket",
            "/tts/a/b/c",
            "/map.tts.v1.TicketService/",
            "/index.html",
        ] {
            assert_eq!(route(p), Route::Unknown, "{p}");
        }
    }
}
