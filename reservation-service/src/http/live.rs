//! `/`: a page that shows reservations and known members changing live, from `/updates`. Plain
//! HTML and JavaScript compiled into the binary: no build step, nothing loaded from elsewhere.

use axum::{http::header, response::IntoResponse};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;

const PAGE: &str = include_str!("live/index.html");

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live_page))
}

/// A page for people: reservations (with the cancellation reason, and how long a member's
/// deletion took to cancel them), the members this service learned of, and the consumer's lag,
/// updating live from `/updates`.
#[utoipa::path(
    get,
    path = "/",
    tag = "reservations",
    responses((status = OK, description = "The live page", content_type = "text/html", body = String))
)]
async fn live_page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE)
}
