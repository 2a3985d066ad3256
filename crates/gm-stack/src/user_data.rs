//! The boot script of a stack instance (Amazon Linux 2023): Docker and the compose plugin (and
//! the NVIDIA driver and container toolkit on GPU), the data volume at `/data`, secrets from SSM
//! into `.env`, the compose file, start, a first model pull, and a spot-interruption watcher that
//! stops the containers cleanly. Progress goes through GeuseMaker's `gm_step` markers.

/// What the script is rendered from.
#[derive(Debug, Clone)]
pub struct BootConfig {
    /// Deployment name (SSM parameters live under `/geusemaker/NAME/`).
    pub deployment: String,
    /// Region of the SSM parameters.
    pub region: String,
    /// The compose file.
    pub compose: String,
    /// Secret variable names for `.env`.
    pub secrets: Vec<&'static str>,
    /// Install the NVIDIA driver and container toolkit.
    pub gpu: bool,
    /// Ollama model to pull on first boot (none when Ollama is not deployed).
    pub model: Option<String>,
    /// Data volume device.
    pub data_device: String,
}

/// Pinned docker compose plugin release.
pub const COMPOSE_VERSION: &str = "v2.32.4";

/// The spec's name of a secret variable: `POSTGRES_PASSWORD` → `postgres-password`.
pub fn secret_name(variable: &str) -> String {
    variable.to_ascii_lowercase().replace('_', "-")
}

/// The SSM parameter name of a secret: `/geusemaker/DEPLOYMENT/postgres-password`.
pub fn parameter_name(deployment: &str, variable: &str) -> String {
    format!("/geusemaker/{deployment}/{}", secret_name(variable))
}

/// Renders the script.
pub fn render(c: &BootConfig) -> String {
    let mut secret_lines = String::new();
    for s in &c.secrets {
        secret_lines.push_str(&format!(
            "  printf '{s}=%s\\n' \"$(fetch_secret {})\"\n",
            parameter_name(&c.deployment, s)
        ));
    }
    let model_step = match &c.model {
        Some(m) => format!(
            "pull_model() {{\n  docker compose -f \"$STACK/compose.yaml\" exec -T ollama ollama pull {m}\n}}\n"
        ),
        None => String::new(),
    };
    let model_call = if c.model.is_some() {
        "gm_step model pull_model\n"
    } else {
        ""
    };
    let gpu_call = if c.gpu {
        "gm_step gpu install_gpu\n"
    } else {
        ""
    };
    format!(
        r##"#!/bin/bash
# GeuseMaker AI stack boot script for {deployment} ({region}).
set -euo pipefail
if ! declare -F gm_step >/dev/null; then gm_step() {{ shift; "$@"; }}; fi
REGION={region}
STACK=/data/stack
DATA_DEVICE={device}

install_docker() {{
  dnf install -y docker awscli-2 xfsprogs
  systemctl enable --now docker
  local arch
  arch=$(uname -m)
  mkdir -p /usr/local/lib/docker/cli-plugins
  curl -fsSLo /usr/local/lib/docker/cli-plugins/docker-compose \
    "https://github.com/docker/compose/releases/download/{compose_version}/docker-compose-linux-$arch"
  chmod +x /usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version
}}

install_gpu() {{
  dnf install -y "kernel-devel-$(uname -r)" "kernel-modules-extra-$(uname -r)" dkms
  dnf config-manager --add-repo https://developer.download.nvidia.com/compute/cuda/repos/amzn2023/x86_64/cuda-amzn2023.repo
  dnf module install -y nvidia-driver:latest-dkms
  dnf config-manager --add-repo https://nvidia.github.io/libnvidia-container/stable/rpm/nvidia-container-toolkit.repo
  dnf install -y nvidia-container-toolkit
  nvidia-ctk runtime configure --runtime=docker
  systemctl restart docker
  nvidia-smi
}}

mount_data() {{
  local dev="$DATA_DEVICE"
  for _ in $(seq 1 90); do
    [ -e "$dev" ] && break
    sleep 2
  done
  mkdir -p /data
  if [ -e "$dev" ]; then
    dev=$(readlink -f "$dev")
    blkid "$dev" >/dev/null 2>&1 || mkfs.xfs "$dev"
    local uuid
    uuid=$(blkid -s UUID -o value "$dev")
    grep -q "$uuid" /etc/fstab || echo "UUID=$uuid /data xfs defaults,nofail 0 2" >> /etc/fstab
    mount -a
  else
    echo "no data volume at $DATA_DEVICE: /data is on the root volume" >&2
  fi
  mkdir -p "$STACK"
}}

fetch_secret() {{
  aws ssm get-parameter --region "$REGION" --with-decryption --name "$1" \
    --query Parameter.Value --output text
}}

write_env() {{
  umask 077
  {{
{secret_lines}  }} > "$STACK/.env"
}}

write_compose() {{
  cat > "$STACK/compose.yaml" <<'GEUSEMAKER_COMPOSE'
{compose}GEUSEMAKER_COMPOSE
}}

start_stack() {{
  docker compose -f "$STACK/compose.yaml" --env-file "$STACK/.env" up -d --wait --wait-timeout 900
  cat > /etc/systemd/system/geusemaker-stack.service <<UNIT
[Unit]
Description=GeuseMaker AI stack
After=docker.service data.mount
Requires=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
WorkingDirectory=$STACK
ExecStart=/usr/local/lib/docker/cli-plugins/docker-compose -f $STACK/compose.yaml --env-file $STACK/.env up -d
ExecStop=/usr/local/lib/docker/cli-plugins/docker-compose -f $STACK/compose.yaml stop --timeout 60

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable geusemaker-stack.service
}}

{model_step}
# Each container's health goes to the console every five minutes, as
# `GEUSEMAKER-UD health service=NAME state=STATE` lines that `geusemaker status` and `monitor` read
# (the private services cannot be probed from outside, by design).
health_reporter() {{
  cat > /usr/local/sbin/geusemaker-health <<'HEALTH'
#!/bin/bash
docker compose -f /data/stack/compose.yaml ps --all --format '{{{{.Service}}}} {{{{.State}}}} {{{{.Health}}}}' 2>/dev/null |
while read -r service state health; do
  printf 'GEUSEMAKER-UD health service=%s state=%s\n' "$service" "${{health:-$state}}" >> /dev/console
done
HEALTH
  chmod 755 /usr/local/sbin/geusemaker-health
  cat > /etc/systemd/system/geusemaker-health.service <<'UNIT'
[Unit]
Description=Report the AI stack's container health on the console

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/geusemaker-health
UNIT
  cat > /etc/systemd/system/geusemaker-health.timer <<'UNIT'
[Unit]
Description=Report the AI stack's container health every five minutes

[Timer]
OnBootSec=2min
OnUnitActiveSec=5min

[Install]
WantedBy=timers.target
UNIT
  systemctl daemon-reload
  systemctl enable --now geusemaker-health.timer
  /usr/local/sbin/geusemaker-health
}}

spot_watcher() {{
  cat > /usr/local/sbin/geusemaker-spot-watch <<'WATCH'
#!/bin/bash
# Stops the stack cleanly when AWS gives the 2-minute spot interruption notice.
while true; do
  token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token || true)
  if curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/spot/instance-action >/dev/null 2>&1; then
    logger -t geusemaker "spot interruption notice: stopping the stack"
    /usr/local/lib/docker/cli-plugins/docker-compose -f /data/stack/compose.yaml stop --timeout 60
    sync
    exit 0
  fi
  sleep 5
done
WATCH
  chmod 755 /usr/local/sbin/geusemaker-spot-watch
  cat > /etc/systemd/system/geusemaker-spot-watch.service <<'UNIT'
[Unit]
Description=Stop the AI stack on a spot interruption notice
After=geusemaker-stack.service

[Service]
ExecStart=/usr/local/sbin/geusemaker-spot-watch
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable --now geusemaker-spot-watch.service
}}

gm_step docker install_docker
{gpu_call}gm_step data-volume mount_data
gm_step secrets write_env
gm_step compose write_compose
gm_step start start_stack
{model_call}gm_step health health_reporter
gm_step spot-watcher spot_watcher
"##,
        deployment = c.deployment,
        region = c.region,
        device = c.data_device,
        compose_version = COMPOSE_VERSION,
        compose = c.compose,
    )
}
