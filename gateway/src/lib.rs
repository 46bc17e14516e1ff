//! The gateway: Envoy-compatible grpc-web, gRPC pass-through, routing, balancing, CORS, TLS, static files.
#![forbid(unsafe_code)]
