# gm_server_notify: one image for web (gunicorn), worker, beat, flower and the provider simulator.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GM_VAR_DIR=/app/var

# Headers, pkg-config and a compiler to build mysqlclient (default-libmysqlclient-dev pulls in
# libmariadb-dev and the libmariadb3 runtime library).
RUN apt-get update \
    && apt-get install -y --no-install-recommends default-libmysqlclient-dev pkg-config gcc \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so code changes do not invalidate this layer.
COPY requirements.txt requirements-mysql.txt ./
RUN pip install -r requirements.txt -r requirements-mysql.txt

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

COPY . .
RUN mkdir -p /app/var && chown -R app:app /app/var

USER app

# Static files into $GM_VAR_DIR/static, served by whitenoise. The key is a build-time dummy only:
# it is an ARG (not persisted as ENV), and the real one comes from DJANGO_SECRET_KEY at run time.
ARG DJANGO_SECRET_KEY=build-time-dummy-not-secret
RUN DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY}" python manage.py collectstatic --noinput

# 8000: gunicorn (web); 8100: provider simulator.
EXPOSE 8000 8100

CMD ["gunicorn", "gm_server_notify.wsgi:application", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
