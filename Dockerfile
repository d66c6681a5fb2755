# Production image for every botpool Python service (bot runtime, scaler, sales bot).
# Nomad runs it with the docker driver; locally the same job specs use raw_exec.
FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY botpool ./botpool
COPY botpool_cli ./botpool_cli
COPY bot_runtime ./bot_runtime
COPY reconciler ./reconciler
COPY scaler ./scaler
COPY sales_bot ./sales_bot
COPY operator_bot ./operator_bot
COPY devstack ./devstack
# botpool/jobs links to jobs/: the job specs the installed package submits (botpool.jobspec).
COPY jobs ./jobs
RUN uv sync --frozen --no-dev

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin botpool
WORKDIR /app
COPY --from=build --chown=botpool:botpool /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER botpool
# The job spec chooses the service (python -m bot_runtime | scaler | sales_bot | operator_bot).
CMD ["python", "-m", "bot_runtime"]
