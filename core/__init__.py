"""orderflow: an event-driven order-processing pipeline on Apache Kafka.

The import root (folder core/). The design's top-level folders are its subpackages:
``orderflow.agents`` (agents/), ``orderflow.tables`` (tables/),
``orderflow.schemas`` (schemas/) and ``orderflow.gateway`` (gateway/), the
service; this package itself holds what they share: the settings and the
command line. The development tools ``orderflow.broker`` (broker/, the local
Kafka launcher), ``orderflow.simulator`` (simulator/) and ``orderflow.bench``
(bench/) come from the separate distribution orderflow-devtools.
"""

import pkgutil

# orderflow-devtools installs its packages under this import root. In an
# editable install each distribution has its own tree on sys.path, so the
# package's path must span them all (in a regular install they share one
# folder and this changes nothing).
__path__ = pkgutil.extend_path(__path__, __name__)

__all__: list[str] = []
