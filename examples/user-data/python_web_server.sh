#!/bin/bash
# Python web server on Amazon Linux 2023: clones an app (or writes a small Flask app), builds a
# virtualenv, installs packages with pip, and runs it under gunicorn as a systemd service on
# port 80 with its settings in an environment file.
#
# Settings (edit here, or export them before this script runs):
#   APP_REPO   git URL of a WSGI app exposing `app:app` (empty: a built-in hello app)
#   APP_PORT   port to listen on (default 80)
set -euo pipefail

APP_REPO="${APP_REPO:-}"
APP_PORT="${APP_PORT:-80}"
APP_DIR=/opt/webapp
APP_USER=webapp

# gm_step comes from GeuseMaker's user-data wrapper; without it, run the command as is.
if ! declare -F gm_step >/dev/null; then gm_step() { shift; "$@"; }; fi

install_packages() {
  dnf install -y python3 python3-pip git
}

fetch_app() {
  id "$APP_USER" >/dev/null 2>&1 || useradd --system --home-dir "$APP_DIR" --shell /sbin/nologin "$APP_USER"
  mkdir -p "$APP_DIR"
  if [ -n "$APP_REPO" ]; then
    git clone --depth 1 "$APP_REPO" "$APP_DIR/src"
  else
    mkdir -p "$APP_DIR/src"
    cat > "$APP_DIR/src/app.py" <<'PY'
import os
import socket

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(
        message=os.environ.get("APP_MESSAGE", "hello from GeuseMaker"),
        host=socket.gethostname(),
    )


@app.get("/healthz")
def healthz():
    return "ok"
PY
    echo "flask>=3,<4" > "$APP_DIR/src/requirements.txt"
  fi
}

build_venv() {
  python3 -m venv "$APP_DIR/venv"
  "$APP_DIR/venv/bin/pip" install --upgrade pip
  "$APP_DIR/venv/bin/pip" install gunicorn
  if [ -f "$APP_DIR/src/requirements.txt" ]; then
    "$APP_DIR/venv/bin/pip" install -r "$APP_DIR/src/requirements.txt"
  fi
  chown -R "$APP_USER:$APP_USER" "$APP_DIR"
}

configure_service() {
  cat > /etc/webapp.env <<ENV
APP_MESSAGE=hello from $(hostname)
PYTHONUNBUFFERED=1
ENV
  cat > /etc/systemd/system/webapp.service <<UNIT
[Unit]
Description=Python web app (gunicorn)
After=network-online.target
Wants=network-online.target

[Service]
User=$APP_USER
WorkingDirectory=$APP_DIR/src
EnvironmentFile=/etc/webapp.env
ExecStart=$APP_DIR/venv/bin/gunicorn --workers 2 --bind 0.0.0.0:$APP_PORT app:app
AmbientCapabilities=CAP_NET_BIND_SERVICE
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now webapp.service
}

check_health() {
  for _ in $(seq 1 30); do
    if curl -fsS "http://127.0.0.1:$APP_PORT/healthz" >/dev/null; then
      echo "web app answers on port $APP_PORT"
      return 0
    fi
    sleep 2
  done
  echo "web app did not answer on port $APP_PORT" >&2
  return 1
}

gm_step packages install_packages
gm_step fetch-app fetch_app
gm_step virtualenv build_venv
gm_step service configure_service
gm_step health check_health
