//! Logs and traces: `tracing` with pretty or JSON output, OpenTelemetry spans
//! so W3C trace context flows across gRPC calls and events, and OTLP export
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::{collections::HashMap, time::Duration};

use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Flushes and stops trace export when the process ends.
#[derive(Debug)]
#[must_use = "dropping the guard without shutdown() may lose the last spans"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Flushes pending spans, waiting at most `timeout` (telemetry is flushed
    /// last, and must not hold a shutdown hostage).
    pub async fn shutdown(self, timeout: Duration) {
        let provider = self.provider;
        let flush = tokio::task::spawn_blocking(move || provider.shutdown());
        if tokio::time::timeout(timeout, flush).await.is_err() {
            tracing::warn!(?timeout, "telemetry flush timed out");
        }
    }
}

/// Errors setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid configuration: MAP_LOG (--log): {0}")]
    Filter(String),
    /// The OTLP exporter could not be built.
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    /// A global subscriber is already installed.
    #[error("telemetry already initialised")]
    AlreadyInitialised,
}

/// Installs the global subscriber. `service` names the process in traces
/// (`map-tts`, `map-dev`, ...). Spans are exported over OTLP/gRPC when the
/// standard `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Call once, early, inside
/// the Tokio runtime.
pub fn init(
    service: &str,
    format: LogFormat,
    filter: &str,
) -> Result<TelemetryGuard, TelemetryError> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty());
    init_with_endpoint(service, format, filter, endpoint)
}

/// [`init`] with the OTLP endpoint given explicitly (`None`: no export).
pub fn init_with_endpoint(
    service: &str,
    format: LogFormat,
    filter: &str,
    otlp_endpoint: Option<String>,
) -> Result<TelemetryGuard, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig as _;

    let filter = EnvFilter::try_new(filter).map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    );
    let exporting = otlp_endpoint.is_some();
    if let Some(endpoint) = otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    // Without an exporter spans still get ids, so trace context propagates
    // and log lines can be correlated.
    let provider = builder.build();
    let tracer = provider.tracer("map");
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let installed = match format {
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
    };
    installed.map_err(|_| TelemetryError::AlreadyInitialised)?;
    if exporting {
        tracing::info!("exporting traces over OTLP");
    }
    Ok(TelemetryGuard { provider })
}

/// The current span's W3C `(traceparent, tracestate)`; empty strings when untraced.
pub fn current_trace_context() -> (String, String) {
    let mut carrier = HashMap::new();
    inject(&tracing::Span::current(), &mut carrier);
    (
        carrier.remove("traceparent").unwrap_or_default(),
        carrier.remove("tracestate").unwrap_or_default(),
    )
}

/// Writes `span`'s trace context into a carrier (gRPC metadata, AMQP headers).
pub fn inject(span: &tracing::Span, carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(&span.context(), carrier);
}

/// Links `span` to `other` (OpenTelemetry span links: a batch's span names
/// each event's span it works for, without being their child).
pub fn link(span: &tracing::Span, other: &tracing::Span) {
    use opentelemetry::trace::TraceContextExt as _;
    let other = other.context().span().span_context().clone();
    if other.is_valid() {
        span.add_link(other);
    }
}

/// Makes `span` a child of the trace context found in `carrier`, if any.
pub fn adopt_parent(span: &tracing::Span, carrier: &dyn Extractor) {
    let parent = TraceContextPropagator::new().extract(carrier);
    let _ = span.set_parent(parent);
}

/// A carrier over W3C header values held as plain strings.
#[derive(Debug, Default)]
pub struct TraceHeaders {
    /// `traceparent` value.
    pub traceparent: String,
    /// `tracestate` value.
    pub tracestate: String,
}

impl Extractor for TraceHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" if !self.traceparent.is_empty() => Some(&self.traceparent),
            "tracestate" if !self.tracestate.is_empty() => Some(&self.tracestate),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// A carrier over HTTP headers (gRPC metadata travels as HTTP/2 headers).
#[derive(Debug)]
pub struct HeaderCarrier<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A mutable carrier over HTTP headers, for outgoing calls.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(key),
            http::HeaderValue::try_from(value),
        ) {
            self.0.insert(name, value);
        }
    }
}
