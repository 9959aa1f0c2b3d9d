# Crime Gun Atlas dashboard image. The database is a separate PostGIS service (docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CGA_HOST=0.0.0.0 CGA_PORT=8050 CGA_DATA_DIR=/var/lib/crimegun

# libgdal/proj come with the pyogrio/pyproj wheels. Chromium renders chart exports and briefings (kaleido,
# print to PDF) on the server. Editable install: the app finds assets/ beside its code.
RUN apt-get update && apt-get install -y --no-install-recommends chromium && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crimegun_cli ./crimegun_cli
COPY layers ./layers
COPY etl ./etl
COPY dashboard ./dashboard
COPY assets ./assets
RUN pip install -e . && useradd --system --create-home --home-dir /var/lib/crimegun crimegun

USER crimegun
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/healthz', timeout=4)"
# Schema first (idempotent), then the production WSGI server.
# The access log records paths without query strings (no log line holds what a user typed).
CMD ["sh", "-c", "crimegun db upgrade && exec gunicorn --workers 2 --worker-class gthread --threads 8 --bind 0.0.0.0:8050 --timeout 120 --access-logfile - --access-logformat '%(h)s %(t)s \"%(m)s %(U)s %(H)s\" %(s)s %(b)s %(M)sms' dashboard.wsgi:server"]
