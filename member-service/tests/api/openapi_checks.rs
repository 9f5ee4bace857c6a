//! What the OpenAPI tests check about any router and its document; the service's own cases are
//! in `openapi.rs`. Both services' API tests have this file, the same.

use std::collections::BTreeSet;

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The routes of the document itself: `/openapi.json` and Swagger UI's pages under `/docs`.
pub const DOCUMENTATION_ROUTES: [&str; 4] = ["/openapi.json", "/docs", "/docs/", "/docs/{*rest}"];

/// A route: its path as the document writes it, and one method.
pub type Operation = (String, Method);

/// Compares the committed document with the served one; `UPDATE_OPENAPI=1` rewrites the file.
pub fn assert_committed(served: &Value, committed_path: &str, crate_name: &str) {
    let pretty = serde_json::to_string_pretty(served).expect("the document serializes") + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let directory = std::path::Path::new(committed_path).parent();
        std::fs::create_dir_all(directory.expect("a directory")).expect("create its directory");
        std::fs::write(committed_path, &pretty).expect("write the committed document");
    }
    let committed: Value = std::fs::read_to_string(committed_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    assert!(
        &committed == served,
        "{committed_path} differs from the document the router serves at /openapi.json: an API \
         change is a reviewed diff. Regenerate it with\n    \
         UPDATE_OPENAPI=1 cargo test -p {crate_name} --test api openapi\nand commit it."
    );
}

/// The paths the router serves, read from its `Debug` output: axum lists no routes, but its
/// route table prints them. Fails, rather than finding none, should that output change.
pub fn served_paths(router: &Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    let table = debug
        .split_once("path_router")
        .and_then(|(_, rest)| rest.split_once("fallback_router"))
        .map(|(table, _)| table)
        .expect("axum's Router prints its path_router before its fallback_router");
    let paths: BTreeSet<String> = table
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|text| text.starts_with('/'))
        .map(str::to_owned)
        .collect();
    assert!(
        !paths.is_empty(),
        "no paths found in the router's Debug output: {debug:.500}"
    );
    paths
}

/// The methods the router serves on `path`, from the `Allow` header of a 405 to a method no
/// route has.
pub async fn served_methods(router: &Router, path: &str) -> BTreeSet<Method> {
    let uri = concrete(path);
    let request = Request::builder()
        .method(Method::from_bytes(b"PROBE").expect("a method name"))
        .uri(&uri)
        .body(Body::empty())
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    assert_eq!(
        response.status(),
        StatusCode::METHOD_NOT_ALLOWED,
        "{uri} is not routed"
    );
    response
        .headers()
        .get(header::ALLOW)
        .and_then(|allow| allow.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|method| !method.is_empty() && *method != "HEAD")
        .map(|method| method.parse().expect("a method"))
        .collect()
}

/// `path` with its parameters filled in.
pub fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            _ if segment.starts_with("{*") => "x".to_owned(),
            _ if segment.starts_with('{') => uuid::Uuid::now_v7().to_string(),
            _ => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every operation in the document.
pub fn documented_operations(document: &Value) -> BTreeSet<Operation> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if let Ok(method) = method.to_uppercase().parse() {
                operations.insert((path.clone(), method));
            }
        }
    }
    operations
}

/// What the document says `operation` answers with `status`: its media type and body schema,
/// `None` when the status is not documented.
pub fn documented_response(
    document: &Value,
    (path, method): &Operation,
    status: StatusCode,
) -> Option<Option<(String, Value)>> {
    let response = document["paths"][path][method.as_str().to_lowercase()]["responses"]
        .get(status.as_str())?;
    Some(
        response["content"]
            .as_object()
            .and_then(|content| content.iter().next())
            .map(|(media_type, content)| (media_type.clone(), content["schema"].clone())),
    )
}

/// Every (operation, status) the document lists.
pub fn documented_statuses(document: &Value) -> BTreeSet<(Operation, StatusCode)> {
    let mut statuses = BTreeSet::new();
    for operation in documented_operations(document) {
        let (path, method) = &operation;
        let responses = &document["paths"][path][method.as_str().to_lowercase()]["responses"];
        for status in responses.as_object().expect("responses").keys() {
            let status = status.parse::<u16>().expect("a numeric status");
            statuses.insert((
                operation.clone(),
                StatusCode::from_u16(status).expect("a status"),
            ));
        }
    }
    statuses
}

/// Checks one observed answer against the document: the status is documented for the
/// operation, and the body has the documented media type and matches the documented schema.
pub fn assert_documented(
    document: &Value,
    operation: &Operation,
    status: StatusCode,
    content_type: Option<&str>,
    body: &Value,
) {
    let Some(response) = documented_response(document, operation, status) else {
        panic!("{operation:?} answered {status}, which the document does not list");
    };
    let Some((media_type, schema)) = response else {
        assert!(
            body.is_null(),
            "{operation:?} {status}: documented without a body"
        );
        return;
    };
    assert_eq!(
        content_type,
        Some(media_type.as_str()),
        "{operation:?} {status}"
    );
    // The components travel with the schema so that its `#/components/…` references resolve.
    let schema = json!({ "components": document["components"], "allOf": [schema] });
    let validator = jsonschema::validator_for(&schema).expect("a documented schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{operation:?} {status}: the body does not match the documented schema: {errors:?}\n{body}"
    );
}

/// One answer: the status, its `Content-Type` and its JSON body (null when empty).
pub type Answer = (StatusCode, Option<String>, Value);

/// Every operation the document secures, asked without a token and with `scopeless_token` (a
/// valid token with no scope): the answers, to check against the document (401 and 403, unless
/// the request's input is refused first).
pub async fn refusals(
    router: &Router,
    document: &Value,
    scopeless_token: &str,
) -> Vec<(Operation, Answer)> {
    let mut answers = Vec::new();
    for operation in documented_operations(document) {
        let (path, method) = &operation;
        let secured = document["paths"][path][method.as_str().to_lowercase()]
            .get("security")
            .is_some();
        if !secured {
            continue;
        }
        for token in [None, Some(scopeless_token)] {
            let mut request = Request::builder()
                .method(method.clone())
                .uri(concrete(path))
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let request = request.body(Body::from("{}")).expect("a request");
            let response = router.clone().oneshot(request).await.expect("an answer");
            let status = response.status();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            answers.push((operation.clone(), (status, content_type, body)));
        }
    }
    answers
}
