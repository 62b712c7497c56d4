"""OpenTelemetry tracing, off unless TRACING_ENABLED or OTEL_EXPORTER_OTLP_ENDPOINT is set (the
standard OTEL_* variables configure the OTLP exporter; TRACING_FILE writes spans as JSON lines
instead, for debugging and tests). The W3C traceparent of the request that submitted a job is
kept as its trace_id, so each attempt's span, on whichever worker and after any crash, joins the
submitter's trace."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dtq.config import Settings

_enabled = False
_tracer: Any = None
_propagator: Any = None


def tracing_on(settings: Settings) -> bool:
    """Whether these settings (or the OTEL_* environment) turn tracing on."""
    return settings.TRACING_ENABLED or bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def setup_tracing(settings: Settings, service: str) -> bool:
    """Install the tracer provider for this process (once); whether tracing is on."""
    global _enabled, _tracer, _propagator
    if _enabled or not tracing_on(settings):
        return _enabled
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if settings.TRACING_FILE:
        out = open(settings.TRACING_FILE, "a", buffering=1)
        exporter = ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n")
        provider.add_span_processor(SimpleSpanProcessor(exporter))  # written as each span ends
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    _tracer = trace.get_tracer("dtq")
    _propagator = TraceContextTextMapPropagator()
    _enabled = True
    return True


def tracing_enabled() -> bool:
    """Whether setup_tracing turned tracing on in this process."""
    return _enabled


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span (None when tracing is off or no span is)."""
    if not _enabled:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def job_span(name: str, traceparent: str | None, attributes: dict[str, Any]) -> Iterator[Any]:
    """A span for one attempt, a child of the submitter's span (`traceparent`, sampled); yields
    the span to record the outcome on, or None: tracing off, a job submitted without a trace
    (e.g. from Python in-process) or one whose trace was not sampled costs nothing here."""
    if not _enabled or not traceparent or traceparent.endswith("-00"):
        yield None  # no trace to join, or the submitter's was not sampled: no span at all
        return
    from opentelemetry.trace import SpanKind

    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else None
    with _tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span
