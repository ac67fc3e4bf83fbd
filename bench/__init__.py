"""``orderflow bench``: an open-loop load harness for the whole pipeline, and
the ceilings (Kafka's own perf tools, raw consume loops, a do-nothing Faust
agent) measured on the same broker beside it.

Modules, each small: ``config`` (what a run is asked to do), ``workload``
(pure: the orders, Zipf popularity), ``target`` (the stack under load: started
here or given), ``seeding`` (customers and stock), ``senders`` (HTTP or Kafka
ingress, price updates), ``tracker`` (the orders events a run waits for),
``recorder`` (HDR histograms and per-second series), ``probes`` (consumer lag,
CPU per process), ``run`` (one run and the ramp), ``report`` (JSON, markdown,
PNG), ``ceilings`` and ``noop_agent`` (the ceilings), ``http_read`` (GET load).
Nothing here opens a connection at import.
"""
