//! The OpenAPI document: collected from the handlers' annotations as their routes are added
//! (`utoipa-axum`), served at `/openapi.json` and shown at `/docs` by Swagger UI, whose assets
//! are compiled into the binary (no CDN).

use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub const DOCUMENT_PATH: &str = "/openapi.json";
pub const PAGE_PATH: &str = "/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "reservation-service",
        description = "Makes, reads, lists and cancels reservations. Keeps its own list of \
            members, built from member events (see event-schema/asyncapi.yaml): only members it \
            knows and that are not deleted may reserve, and a member's deletion cancels the \
            member's reservations.\n\n\
            Every error is an RFC 9457 problem (`application/problem+json`); a validation \
            failure (422) lists each broken rule in `errors`. Lists are paged by cursor: pass \
            a page's `next_cursor` as `cursor` until it is absent."
    ),
    tags(
        (name = "reservations", description = "Reservations: make, read, list, cancel"),
        (name = "member list", description = "This service's own view of members, from events"),
        (name = "operations", description = "Liveness, readiness and the event consumer, for operators"),
    )
)]
struct ApiDoc;

/// The document's title, description and tags; the paths come with the routes.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `/openapi.json` and the pages under `/docs`.
pub fn pages(document: utoipa::openapi::OpenApi) -> SwaggerUi {
    SwaggerUi::new(PAGE_PATH).url(DOCUMENT_PATH, document)
}
