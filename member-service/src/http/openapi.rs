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
        title = "member-service",
        description = "Registers, reads and deletes members. Every change publishes a member event \
            (see event-schema/asyncapi.yaml) through a transactional outbox.\n\n\
            Every error is an RFC 9457 problem (`application/problem+json`); a validation \
            failure (422) lists each broken rule in `errors`. Lists are paged by cursor: pass \
            a page's `next_cursor` as `cursor` until it is absent."
    ),
    tags(
        (name = "members", description = "Members: register, read, list, delete"),
        (name = "operations", description = "Liveness and readiness, for orchestrators"),
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
