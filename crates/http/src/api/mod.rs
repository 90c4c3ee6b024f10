//! The versioned resource routers, nested under `/api/v1`, and the development-only routes.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod dev;
pub mod invites;
pub mod members;
pub mod projects;
pub mod superuser;
pub mod tenants;
pub mod users;

use axum::Router;

use crate::state::AppState;

pub fn v1() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(tenants::router())
        .merge(admin::router())
        .merge(users::router())
        .merge(members::router())
        .merge(invites::router())
        .merge(projects::router())
        .merge(audit::router())
        .merge(superuser::router())
}
