# The bot in a container (README, "Running in production"): docker compose up -d --build
FROM python:3.11-slim

# Not root: the bot needs no privilege, and its data volume belongs to this user.
RUN useradd --create-home --uid 10001 bot && mkdir /data && chown bot /data

# The package from this repository, as the quick start installs it (PyAV's wheel carries the
# FFmpeg libraries it uses; nothing else is needed from the system).
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir .

USER bot
WORKDIR /data
VOLUME /data
ENV DATABASE_URL=sqlite:////data/bot.db

# Healthy while /healthz answers 200 (asked where METRICS_HOST serves it); with METRICS_PORT
# unset there is nothing to ask.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD [ -z "$METRICS_PORT" ] || python -c "import os, urllib.request; host = os.environ.get('METRICS_HOST') or '127.0.0.1'; host = '127.0.0.1' if host in ('0.0.0.0', '::') else host; urllib.request.urlopen(f'http://{host}:' + os.environ['METRICS_PORT'] + '/healthz', timeout=4)" 2>/dev/null || exit 1

CMD ["python", "-m", "bot"]
