"""One trace per order: OpenTelemetry spans, carried across Kafka in W3C
``traceparent`` headers.

The gateway starts (or continues, from the caller's ``traceparent``) a trace
per request and writes it into the headers of what it produces; every agent
continues the trace of the message it handles and writes it into everything
it produces; the payment client passes it on to the provider. So one order's
saga, across workers and partitions, is one trace, and a message from a
producer without the header starts a new one.

Off unless ``otlp_endpoint`` is set: then the spans go to that OTLP/HTTP
receiver (Jaeger, an OpenTelemetry collector) in batches from a background
thread, sampled at ``trace_sample_ratio`` where a trace starts; off, every
helper here returns at once. Owns the tracer provider of its process and the
names of the trace headers; opens nothing at import.
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from orderflow.settings import Settings

__all__ = ["REQUEST_ID", "TRACEPARENT", "SpanKind", "current_ids", "enabled", "fail", "headers_for_http",
           "headers_for_kafka", "parent_from_http", "parent_from_kafka", "span", "start_tracing", "trace_id_of"]

TRACEPARENT = "traceparent"
REQUEST_ID = "x-request-id"
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER = trace.get_tracer("orderflow")
_state = {"on": False}


def start_tracing(settings: Settings, process: str) -> bool:
    """Export this process' spans to the settings' OTLP endpoint; False (and nothing
    done) when none is set."""
    if not settings.otlp_endpoint or _state["on"]:
        return _state["on"]
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(resource=Resource.create({"service.name": f"orderflow-{process}"}),
                              sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)))
    endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    atexit.register(provider.shutdown)  # what is still batched goes out before the process ends
    _state["on"] = True
    return True


def enabled() -> bool:
    return _state["on"]


class _KafkaHeaders(Getter[Mapping[str, Any]]):
    """Reads trace headers from Kafka headers (bytes values)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            return None
        return [value.decode("latin-1") if isinstance(value, bytes) else str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


_KAFKA_HEADERS = _KafkaHeaders()


def parent_from_kafka(headers: Mapping[str, Any] | None) -> Context | None:
    """The trace a Kafka message carries (None: it starts a new one, or tracing is off)."""
    if not _state["on"] or not headers or TRACEPARENT not in headers:
        return None
    return _PROPAGATOR.extract(headers, getter=_KAFKA_HEADERS)


def parent_from_http(headers: Mapping[str, str]) -> Context | None:
    """The trace an HTTP request carries in ``traceparent`` (None: it starts a new one, or tracing is off)."""
    return _PROPAGATOR.extract(headers) if _state["on"] and TRACEPARENT in headers else None


@contextlib.contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL, parent: Context | None = None,
         attributes: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A span (the current one inside the block), child of ``parent`` or of the
    current span; None and nothing else when tracing is off. An exception out of
    the block marks the span failed."""
    if not _state["on"]:
        yield None
        return
    with _TRACER.start_as_current_span(name, context=parent, kind=kind, attributes=attributes,
                                       record_exception=True, set_status_on_exception=True) as current:
        yield current


def fail(current: Span | None, description: str) -> None:
    if current is not None:
        current.set_status(Status(StatusCode.ERROR, description))


def headers_for_kafka() -> dict[str, bytes]:
    """The current trace as Kafka headers (empty when tracing is off or no span is current)."""
    if not _state["on"]:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return {name: value.encode("latin-1") for name, value in carrier.items()}


def headers_for_http() -> dict[str, str]:
    """The current trace as HTTP headers (``traceparent``), for a call to another service."""
    if not _state["on"]:
        return {}
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def trace_id_of(current: Span | None) -> str | None:
    """The 32-hex-digit id of ``current``'s trace (None when tracing is off)."""
    if current is None:
        return None
    context = current.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, when there is a recording one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
