# The worker image docker-compose.yml and k8s/ run. Nothing in CI builds it (no Docker engine
# there); the same package is what `make test` installs and tests.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
RUN pip install --no-cache-dir . && useradd --create-home driftline
USER driftline
ENV DRIFTLINE_WEB_HOST=0.0.0.0
EXPOSE 6066
CMD ["driftline", "worker"]
