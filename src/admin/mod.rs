//! The salon's web pages (`/admin/...`) and the operator's JSON API (`/api/...`), both behind
//! `ADMIN_TOKEN`; without it every one of these routes answers 404, as if it did not exist.
//!
//! - [`auth`]: the token (constant-time, the failed-authentication budget), the session cookie and
//!   the forms' CSRF tokens;
//! - [`params`]: query parameters, a bad one answered 400 by name;
//! - [`views`]: what both show, read from the store; [`ops`]: what both change;
//! - [`api`] and [`openapi`]: the JSON API and its description; [`pages`]: the HTML pages
//!   (askama templates under `templates/admin/`).

pub mod api;
pub mod auth;
pub mod chart;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod params;
pub mod simulator;
pub mod views;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::AppState;
use crate::error::AppError;

/// The API and page routes, answering 404 while `ADMIN_TOKEN` is unset.
pub fn routes(state: AppState) -> Router<AppState> {
    let api = Router::new()
        .route("/api/messages", get(api::messages))
        .route("/api/stats", get(api::stats))
        .route("/api/appointments", get(api::appointments))
        .route("/api/conversations", get(api::conversations))
        .route("/api/conversations/{id}", get(api::conversation))
        .route("/api/conversations/{id}/human", post(api::to_human))
        .route("/api/conversations/{id}/bot", post(api::to_bot))
        .route("/api/webhooks", get(api::webhooks))
        .route("/api/events/{id}/replay", post(api::replay))
        .route("/api/dead-letters", get(api::dead_letters))
        .route("/api/dead-letters/{id}/retry", post(api::retry))
        .route(
            "/api/dead-letters/{id}",
            axum::routing::delete(api::discard),
        )
        .route("/api/openapi.json", get(api::openapi));
    api.merge(pages::routes())
        .route_layer(middleware::from_fn_with_state(state, enabled))
}

/// 404 for every admin route while `ADMIN_TOKEN` is unset.
async fn enabled(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.config.admin_token.is_none() {
        return AppError::NotFound("not found".into()).into_response();
    }
    next.run(req).await
}
