#!/bin/bash
# Development box on Amazon Linux 2023: compilers and tools, Node.js and Python, a `dev` user
# with its environment, and VS Code in the browser (code-server) on localhost:8080 — reach it
# with ssh -L 8080:localhost:8080 ec2-user@HOST; the password is in ~dev/.config/code-server.
#
# Settings:
#   DEV_USER        the developer's account (default dev)
#   DEV_REPO        git URL to clone into ~/src (optional)
#   CODE_SERVER_VER pinned code-server release (default 4.96.4)
set -euo pipefail

DEV_USER="${DEV_USER:-dev}"
DEV_REPO="${DEV_REPO:-}"
CODE_SERVER_VER="${CODE_SERVER_VER:-4.96.4}"

if ! declare -F gm_step >/dev/null; then gm_step() { shift; "$@"; }; fi

install_packages() {
  dnf groupinstall -y "Development Tools"
  dnf install -y git tmux htop jq python3 python3-pip nodejs npm
}

create_user() {
  id "$DEV_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$DEV_USER"
  if [ -f /home/ec2-user/.ssh/authorized_keys ]; then
    install -d -m 700 -o "$DEV_USER" -g "$DEV_USER" "/home/$DEV_USER/.ssh"
    install -m 600 -o "$DEV_USER" -g "$DEV_USER" /home/ec2-user/.ssh/authorized_keys "/home/$DEV_USER/.ssh/"
  fi
  cat > /etc/profile.d/geusemaker-dev.sh <<'ENV'
export EDITOR=vim
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PATH="$HOME/.local/bin:$PATH"
ENV
}

clone_repo() {
  local src="/home/$DEV_USER/src"
  mkdir -p "$src"
  if [ -n "$DEV_REPO" ]; then
    git clone "$DEV_REPO" "$src/$(basename "$DEV_REPO" .git)"
  fi
  chown -R "$DEV_USER:$DEV_USER" "$src"
}

install_code_server() {
  local arch rpm
  arch=$(uname -m)
  case "$arch" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
  esac
  rpm="code-server-${CODE_SERVER_VER}-${arch}.rpm"
  curl -fsSLo "/tmp/$rpm" "https://github.com/coder/code-server/releases/download/v${CODE_SERVER_VER}/${rpm}"
  dnf install -y "/tmp/$rpm"
  local cfg="/home/$DEV_USER/.config/code-server"
  install -d -o "$DEV_USER" -g "$DEV_USER" "/home/$DEV_USER/.config" "$cfg"
  printf 'bind-addr: 127.0.0.1:8080\nauth: password\npassword: %s\ncert: false\n' \
    "$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$cfg/config.yaml"
  chown "$DEV_USER:$DEV_USER" "$cfg/config.yaml"
  chmod 600 "$cfg/config.yaml"
  systemctl enable --now "code-server@$DEV_USER"
}

gm_step packages install_packages
gm_step user create_user
gm_step repo clone_repo
gm_step code-server install_code_server
