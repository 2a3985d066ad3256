#!/bin/bash
# Containerised application on Amazon Linux 2023: installs Docker, enables the NVIDIA runtime
# when a GPU driver is present, and runs one container as a systemd service so it restarts
# with the machine.
#
# Settings:
#   APP_IMAGE     image to run (default a pinned nginx)
#   APP_PORTS     -p mappings (default 80:80)
#   APP_ENV       extra environment lines KEY=VALUE, one per line, written to /etc/app.env
set -euo pipefail

APP_IMAGE="${APP_IMAGE:-public.ecr.aws/nginx/nginx:1.27}"
APP_PORTS="${APP_PORTS:-80:80}"
APP_ENV="${APP_ENV:-}"

if ! declare -F gm_step >/dev/null; then gm_step() { shift; "$@"; }; fi

install_docker() {
  dnf install -y docker
  systemctl enable --now docker
  usermod -aG docker ec2-user
}

enable_gpu() {
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "no NVIDIA driver on this machine: running on CPU"
    return 0
  fi
  dnf config-manager --add-repo https://nvidia.github.io/libnvidia-container/stable/rpm/nvidia-container-toolkit.repo
  dnf install -y nvidia-container-toolkit
  nvidia-ctk runtime configure --runtime=docker
  systemctl restart docker
}

configure_app() {
  printf '%s\n' "$APP_ENV" > /etc/app.env
  chmod 600 /etc/app.env
  local gpu_flag=""
  if command -v nvidia-smi >/dev/null 2>&1; then
    gpu_flag="--gpus all"
  fi
  cat > /etc/systemd/system/app.service <<UNIT
[Unit]
Description=Containerised app ($APP_IMAGE)
After=docker.service
Requires=docker.service

[Service]
ExecStartPre=-/usr/bin/docker rm -f app
ExecStartPre=/usr/bin/docker pull $APP_IMAGE
ExecStart=/usr/bin/docker run --rm --name app --env-file /etc/app.env -p $APP_PORTS $gpu_flag $APP_IMAGE
ExecStop=/usr/bin/docker stop app
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now app.service
}

check_running() {
  for _ in $(seq 1 60); do
    if docker ps --filter name=app --filter status=running --quiet | grep -q .; then
      echo "container is running"
      return 0
    fi
    sleep 3
  done
  echo "container did not start" >&2
  journalctl -u app.service --no-pager | tail -n 20 >&2
  return 1
}

gm_step docker install_docker
gm_step gpu-runtime enable_gpu
gm_step app configure_app
gm_step running check_running
