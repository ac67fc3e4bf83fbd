# The orderflow image: the service only, run as `orderflow worker`,
# `orderflow gateway` or `orderflow topics` (docker-compose.yml wires them).
# The development tools (bench/, broker/, simulator/: the distribution
# orderflow-devtools, devtools/pyproject.toml) are neither copied nor
# installed; their commands are hidden from `orderflow --help` here.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY core core
COPY agents agents
COPY gateway gateway
COPY schemas schemas
COPY tables tables
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home --uid 1000 orderflow
USER orderflow
WORKDIR /home/orderflow
ENTRYPOINT ["orderflow"]
