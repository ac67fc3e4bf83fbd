"""Log lines as JSON carry the agent, the order and the trace; a trace written
into Kafka headers is continued by whoever reads them."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from orderflow import tracing
from orderflow.logs import AGENT, ORDER_ID, ContextFilter, JsonFormatter
from orderflow.simulator.trace_sink import TraceStore

EXPORTER = InMemorySpanExporter()


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
    monkeypatch.setitem(tracing._state, "on", True)
    EXPORTER.clear()
    return EXPORTER


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("orderflow.test", logging.INFO, __file__, 1, message, (), None)
    for name, value in extra.items():
        setattr(made, name, value)
    ContextFilter().filter(made)
    return made


def test_a_json_line_names_the_agent_and_order_being_handled() -> None:
    agent, order = AGENT.set("process_orders"), ORDER_ID.set("ord_1")
    try:
        line = json.loads(JsonFormatter("worker").format(record("order ord_1 pending -> confirmed")))
    finally:
        AGENT.reset(agent)
        ORDER_ID.reset(order)
    assert line["process"] == "worker" and line["level"] == "info"
    assert (line["agent"], line["orderId"], line["message"]) == ("process_orders", "ord_1",
                                                                 "order ord_1 pending -> confirmed")
    assert "traceId" not in line  # no span: no trace to name


def test_fields_given_with_extra_are_kept_and_unknown_ones_left_out() -> None:
    line = json.loads(JsonFormatter("gateway").format(record("POST /api/v1/orders 202", status=202, route="/x")))
    assert (line["status"], line["route"]) == (202, "/x")
    assert "agent" not in line and "orderId" not in line


def test_a_line_logged_inside_a_span_carries_its_trace(traced: InMemorySpanExporter) -> None:
    with tracing.span("step") as current:
        line = json.loads(JsonFormatter().format(record("inside")))
    assert line["traceId"] == tracing.trace_id_of(current)
    assert line["spanId"] == format(current.get_span_context().span_id, "016x")  # type: ignore[union-attr]


def test_a_trace_written_into_kafka_headers_is_continued_by_the_reader(traced: InMemorySpanExporter) -> None:
    with tracing.span("gateway request", tracing.SpanKind.SERVER) as sender:
        headers = tracing.headers_for_kafka()
    assert set(headers) == {"traceparent"}
    with tracing.span("agent step", tracing.SpanKind.CONSUMER, tracing.parent_from_kafka(headers)) as reader:
        pass
    assert reader.get_span_context().trace_id == sender.get_span_context().trace_id  # type: ignore[union-attr]
    finished = {span.name: span for span in traced.get_finished_spans()}
    assert finished["agent step"].parent.span_id == sender.get_span_context().span_id  # type: ignore[union-attr]


def test_a_message_without_the_header_starts_a_new_trace(traced: InMemorySpanExporter) -> None:
    assert tracing.parent_from_kafka({"content-type": b"application/json"}) is None
    with tracing.span("earlier message") as earlier:
        pass
    with tracing.span("external producer's message", parent=tracing.parent_from_kafka(None)) as fresh:
        pass
    assert fresh.get_span_context().trace_id != earlier.get_span_context().trace_id  # type: ignore[union-attr]
    assert traced.get_finished_spans()[-1].parent is None


def test_off_every_helper_returns_nothing() -> None:
    assert not tracing.enabled()
    with tracing.span("anything") as current:
        assert current is None
        assert tracing.headers_for_kafka() == {} and tracing.headers_for_http() == {}


def test_the_trace_sink_keeps_the_latest_traces_only() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    store = TraceStore(keep=2)
    for n in range(3):
        export = ExportTraceServiceRequest()
        span = export.resource_spans.add().scope_spans.add().spans.add()
        span.trace_id, span.span_id, span.name = bytes([n]) * 16, bytes([n]) * 8, f"span {n}"
        store.add(export)
    assert [spans[0]["name"] for spans in store.traces.values()] == ["span 1", "span 2"]
    assert store.spans_received == 3
