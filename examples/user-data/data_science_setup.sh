#!/bin/bash
# Data-science workstation on Amazon Linux 2023: mounts the data volume at /data, builds a
# Python virtualenv with JupyterLab and the usual libraries, and runs JupyterLab as a systemd
# service bound to localhost (reach it with an SSH tunnel: ssh -L 8888:localhost:8888 ...).
#
# Settings:
#   DATA_DEVICE   the EBS device of the data volume (default /dev/sdf; Nitro NVMe names resolve)
#   NOTEBOOK_REPO git URL of notebooks to clone into /data/notebooks (optional)
set -euo pipefail

DATA_DEVICE="${DATA_DEVICE:-/dev/sdf}"
NOTEBOOK_REPO="${NOTEBOOK_REPO:-}"
DS_USER=ec2-user
VENV=/opt/datascience/venv

if ! declare -F gm_step >/dev/null; then gm_step() { shift; "$@"; }; fi

install_packages() {
  dnf install -y python3.11 python3.11-pip python3.11-devel gcc git xfsprogs
}

mount_data() {
  local dev="$DATA_DEVICE"
  # On Nitro instances /dev/sdf is a udev symlink to an NVMe device; wait for it.
  for _ in $(seq 1 60); do
    [ -e "$dev" ] && break
    sleep 2
  done
  if [ ! -e "$dev" ]; then
    echo "no data volume at $dev; using the root volume for /data"
    mkdir -p /data
    return 0
  fi
  dev=$(readlink -f "$dev")
  if ! blkid "$dev" >/dev/null 2>&1; then
    mkfs.xfs "$dev"
  fi
  mkdir -p /data
  local uuid
  uuid=$(blkid -s UUID -o value "$dev")
  grep -q "$uuid" /etc/fstab || echo "UUID=$uuid /data xfs defaults,nofail 0 2" >> /etc/fstab
  mount -a
  chown "$DS_USER:$DS_USER" /data
}

build_venv() {
  mkdir -p /opt/datascience
  python3.11 -m venv "$VENV"
  "$VENV/bin/pip" install --upgrade pip
  "$VENV/bin/pip" install jupyterlab numpy pandas scipy scikit-learn matplotlib seaborn
  chown -R "$DS_USER:$DS_USER" /opt/datascience
}

fetch_notebooks() {
  mkdir -p /data/notebooks
  if [ -n "$NOTEBOOK_REPO" ] && [ ! -d /data/notebooks/.git ]; then
    git clone "$NOTEBOOK_REPO" /data/notebooks
  fi
  chown -R "$DS_USER:$DS_USER" /data/notebooks
}

configure_service() {
  local token
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  install -m 600 -o "$DS_USER" /dev/null /etc/jupyter.env
  printf 'JUPYTER_TOKEN=%s\nPYTHONUNBUFFERED=1\n' "$token" > /etc/jupyter.env
  cat > /etc/systemd/system/jupyter.service <<UNIT
[Unit]
Description=JupyterLab
After=network-online.target data.mount

[Service]
User=$DS_USER
WorkingDirectory=/data/notebooks
EnvironmentFile=/etc/jupyter.env
ExecStart=$VENV/bin/jupyter lab --no-browser --ip=127.0.0.1 --port=8888
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now jupyter.service
  echo "JupyterLab token is in /etc/jupyter.env (readable by $DS_USER only)"
}

gm_step packages install_packages
gm_step data-volume mount_data
gm_step virtualenv build_venv
gm_step notebooks fetch_notebooks
gm_step jupyter configure_service
