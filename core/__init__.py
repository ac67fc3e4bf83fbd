"""orderflow: an event-driven order-processing pipeline on Apache Kafka.

The import root (folder core/). The design's top-level folders are its subpackages:
``orderflow.agents`` (agents/), ``orderflow.tables`` (tables/),
``orderflow.schemas`` (schemas/), ``orderflow.gateway`` (gateway/) and
``orderflow.broker`` (broker/, the local Kafka launcher). This package itself
holds what they share: the settings and the command line.
"""

__all__: list[str] = []
