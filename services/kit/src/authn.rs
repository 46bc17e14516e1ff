//! The client side of Auth that every other system uses: an authenticator
//! that validates callers with Auth's `ValidateToken` (cached briefly) and
//! puts the [`Principal`](map_contracts::auth::v1::Principal) in the request.
