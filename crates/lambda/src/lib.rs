//! `logport-lambda` runs Logport's HTTP API on AWS Lambda behind an API Gateway HTTP API
//! (payload format 2.0): it turns the event into the `http::Request<Bytes>` that
//! [`logport_api::Api::handle`] answers, and the answer into the response API Gateway expects
//! (binary bodies base64-encoded), both exactly ([`convert`]). It also holds the split of the API
//! between the functions ([`Function`]), the context each function builds once at cold start
//! ([`Context`]), and [`gateway`]: API Gateway and the Lambda runtime emulated in process, for
//! tests and the local adapter.
//!
//! It must not route, authenticate or map errors (the API does, once), and must not know a
//! storage backend beyond the seam in [`store`].

pub mod context;
#[cfg(feature = "runtime")]
pub mod convert;
pub mod function;
#[cfg(feature = "runtime")]
pub mod gateway;
pub mod settings;
pub mod store;

#[cfg(feature = "runtime")]
use std::convert::Infallible;

#[cfg(feature = "runtime")]
use lambda_http::LambdaEvent;
#[cfg(feature = "runtime")]
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};

pub use context::{Context, ContextError};
pub use function::Function;
pub use settings::Settings;
pub use store::Stores;

/// Whether an invocation's payload is an API Gateway HTTP API (payload format 2.0) event, not
/// another source's (the shipper function also gets EventBridge schedule events).
pub fn is_http_event(payload: &serde_json::Value) -> bool {
    payload.get("version").and_then(|v| v.as_str()) == Some("2.0")
        && payload.pointer("/requestContext/http/method").is_some()
        && payload.get("rawPath").is_some()
}

/// How often a scheduled pass also collects orphan objects (segments written by requests that
/// never committed): listing every shard's objects is the costly part of housekeeping.
pub const ORPHANS_EVERY_SECS: i64 = 3600;

/// Answers one invocation of the shipper function: an API Gateway event is a call of the shipper
/// API (answered as [`handle`] answers), anything else a scheduled pass whose answer is the pass's
/// report: shipping ([`logport_shipper::Shipper::run_due`]), then the housekeeping that
/// `logport up` runs on timers: expired segments and idempotency keys deleted
/// ([`logport_core::engine::Engine::sweep_expired`]) and, once per [`ORPHANS_EVERY_SECS`] across
/// all invocations, orphan objects collected. The event of a schedule is not read: a pass works
/// from the clock and the stored state, so a late or repeated event does no harm.
#[cfg(all(feature = "runtime", feature = "shipper"))]
pub async fn handle_shipper(
    context: &Context,
    shipper: &logport_shipper::Shipper,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_http::Error> {
    if is_http_event(&event.payload) {
        let request: ApiGatewayV2httpRequest = serde_json::from_value(event.payload)?;
        let response = handle(context, LambdaEvent::new(request, event.context)).await?;
        return Ok(serde_json::to_value(response)?);
    }
    let engine = context.engine();
    let shipping = shipper.run_due(engine.now()).await?;
    // Housekeeping failures are logged, not fatal: the shipping pass already happened, and the
    // next pass sweeps again.
    let swept = engine.sweep_expired().await.map_err(|error| tracing::warn!(%error, "retention sweep failed")).ok();
    let orphans = engine
        .collect_orphans_if_due(ORPHANS_EVERY_SECS)
        .await
        .map_err(|error| tracing::warn!(%error, "orphan collection failed"))
        .ok()
        .flatten();
    Ok(serde_json::json!({
        "shipping": serde_json::to_value(shipping)?,
        "expired": swept.map(|report| serde_json::json!({
            "segmentsDeleted": report.segments_deleted,
            "bytesDeleted": report.bytes_deleted,
            "idempotencyKeysDeleted": report.idempotency_keys_deleted,
        })),
        "orphans": orphans.map(|report| serde_json::json!({
            "objectsDeleted": report.orphans_deleted,
            "bytesDeleted": report.bytes_deleted,
        })),
    }))
}

#[cfg(feature = "runtime")]
/// Answers one invocation: the function given to the Lambda runtime. Never fails: every problem
/// with the request is an SLS error response.
pub async fn handle(
    context: &Context,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Infallible> {
    let response = match convert::api_request(event.payload) {
        Ok(request) => {
            let (parts, body) = request.into_parts();
            // The web console's files, beside the API on the function that has the `$default`
            // route (`/console/...`, and a browser's `GET /`).
            match context.function().serves_console().then(|| logport_console::serve(&parts)).flatten() {
                Some(page) => page,
                None => context.api().handle(http::Request::from_parts(parts, body)).await,
            }
        }
        Err(error) => context.api().reject(&error),
    };
    Ok(convert::lambda_response(response))
}

#[cfg(test)]
mod tests {
    use super::is_http_event;
    use serde_json::json;

    #[test]
    fn tells_api_gateway_events_from_schedules() {
        let http = json!({"version": "2.0", "rawPath": "/logstores/web/shipper",
            "requestContext": {"http": {"method": "POST", "path": "/logstores/web/shipper"}}});
        assert!(is_http_event(&http));
        // EventBridge Scheduler's default input, and an EventBridge rule's scheduled event.
        assert!(!is_http_event(&json!({})));
        assert!(!is_http_event(&json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events"})));
        assert!(!is_http_event(&json!({"version": "2.0", "rawPath": "/"})));
    }
}
