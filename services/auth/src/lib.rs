//! Auth, the identity backbone: users, roles per system, tokens, API keys, round-robin assignees.
#![forbid(unsafe_code)]
