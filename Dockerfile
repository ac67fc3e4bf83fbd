# The orderflow image: one Python package, run as `orderflow worker`,
# `orderflow gateway` or `orderflow topics` (docker-compose.yml wires them).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY core core
COPY agents agents
COPY gateway gateway
COPY schemas schemas
COPY tables tables
COPY broker broker
COPY simulator simulator
COPY bench bench
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home orderflow
USER orderflow
WORKDIR /home/orderflow
ENTRYPOINT ["orderflow"]
