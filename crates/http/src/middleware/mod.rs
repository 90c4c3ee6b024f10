//! Layers of api.md §0.3–§0.4, applied in `app::router` in the contract's order.

pub(crate) mod body_limit;
pub(crate) mod context;
pub(crate) mod headers;
pub(crate) mod rate_limit;
