//! The versioned resource routers, nested under `/api/v1`.

use axum::Router;

use crate::state::AppState;

pub fn v1() -> Router<AppState> {
    Router::new()
}
