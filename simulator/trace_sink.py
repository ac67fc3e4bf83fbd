"""A small OTLP/HTTP trace receiver, for machines where Jaeger cannot run:
what ``orderflow dev --observe`` and the tests send their spans to.

Consumes POST /v1/traces (OTLP protobuf, as the OpenTelemetry exporters send
it, or OTLP JSON); serves GET /traces (the latest trace ids with their span
counts and root names), GET /traces/{traceId} (its spans: name, service,
kind, ids, parent, start, duration in ms, attributes, status) and /healthz.
Owns the spans of the last ``keep`` traces, in memory only.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict, Parse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = ["TraceStore", "create_trace_sink", "run_trace_sink"]

log = logging.getLogger(__name__)
STORE: web.AppKey[TraceStore] = web.AppKey("store")
KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


class TraceStore:
    """The spans of the latest traces, by trace id (oldest dropped first)."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self.traces: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self.spans_received = 0

    def add(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "unknown")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self._add(service, span)

    def _add(self, service: str, span: Any) -> None:
        trace_id = span.trace_id.hex()
        spans = self.traces.setdefault(trace_id, [])
        self.traces.move_to_end(trace_id)
        spans.append({
            "name": span.name,
            "service": service,
            "kind": KINDS.get(span.kind, str(span.kind)),
            "traceId": trace_id,
            "spanId": span.span_id.hex(),
            "parentSpanId": span.parent_span_id.hex() or None,
            "startUnixNano": span.start_time_unix_nano,
            "durationMs": round((span.end_time_unix_nano - span.start_time_unix_nano) / 1e6, 3),
            "attributes": {a.key: _value(a.value) for a in span.attributes},
            "status": {0: "unset", 1: "ok", 2: "error"}.get(span.status.code, "unset"),
        })
        self.spans_received += 1
        while len(self.traces) > self.keep:
            self.traces.popitem(last=False)


def _value(value: Any) -> Any:
    found = value.WhichOneof("value")
    return MessageToDict(value)[_camel(found)] if found in ("array_value", "kvlist_value") else getattr(value, found)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def receive(request: web.Request) -> web.Response:
    body = await request.read()
    export = ExportTraceServiceRequest()
    try:
        if request.content_type == "application/json":
            Parse(body.decode(), export)
        else:
            export.ParseFromString(body)
    except Exception as exc:  # noqa: BLE001 - any undecodable body is the sender's fault
        return web.json_response({"error": "invalid_request", "message": f"not an OTLP trace export: {exc}"},
                                 status=400)
    request.app[STORE].add(export)
    return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf")


async def list_traces(request: web.Request) -> web.Response:
    store = request.app[STORE]
    latest = list(store.traces.items())[-100:]
    return web.json_response({
        "spansReceived": store.spans_received,
        "traces": [{"traceId": trace_id, "spans": len(spans),
                    "root": next((s["name"] for s in spans if s["parentSpanId"] is None), None)}
                   for trace_id, spans in reversed(latest)],
    })


async def get_trace(request: web.Request) -> web.Response:
    trace_id = request.match_info["trace_id"].lower()
    spans = request.app[STORE].traces.get(trace_id)
    if spans is None:
        return web.json_response({"error": "not_found", "message": f"no trace {trace_id!r}"}, status=404)
    return web.json_response({"traceId": trace_id, "spans": sorted(spans, key=lambda s: s["startUnixNano"])})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def create_trace_sink(keep: int = 10_000) -> web.Application:
    app = web.Application(client_max_size=16 << 20)
    app[STORE] = TraceStore(keep)
    app.add_routes([web.post("/v1/traces", receive), web.get("/traces", list_traces),
                    web.get("/traces/{trace_id}", get_trace), web.get("/healthz", healthz),
                    web.get("/readyz", healthz)])
    return app


def run_trace_sink(host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    logging.basicConfig(level="INFO", format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    web.run_app(create_trace_sink(), host=host, port=port, access_log=None, print=None, shutdown_timeout=2)
