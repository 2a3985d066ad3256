#!/bin/bash
# MySQL-compatible database server (MariaDB, Amazon Linux 2023's MySQL) with its data on the
# data volume, a generated root password, an application database and user, and a nightly
# backup timer that keeps seven days of dumps.
#
# Settings:
#   DATA_DEVICE  the EBS device for /data (default /dev/sdf)
#   DB_NAME      application database (default app)
#   DB_USER      application user (default app)
set -euo pipefail

DATA_DEVICE="${DATA_DEVICE:-/dev/sdf}"
DB_NAME="${DB_NAME:-app}"
DB_USER="${DB_USER:-app}"

if ! declare -F gm_step >/dev/null; then gm_step() { shift; "$@"; }; fi

random_secret() {
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

install_packages() {
  dnf install -y mariadb105-server xfsprogs
}

mount_data() {
  local dev="$DATA_DEVICE"
  for _ in $(seq 1 60); do
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
  fi
  mkdir -p /data/mysql /var/backups/mysql
  chown mysql:mysql /data/mysql
}

configure_server() {
  cat > /etc/my.cnf.d/geusemaker.cnf <<CNF
[mysqld]
datadir=/data/mysql
bind-address=0.0.0.0
innodb_buffer_pool_size=256M
CNF
  if [ ! -d /data/mysql/mysql ]; then
    mysql_install_db --user=mysql --datadir=/data/mysql
  fi
  systemctl enable --now mariadb
}

secure_and_create() {
  if [ -f /root/.my.cnf ]; then
    echo "already configured"
    return 0
  fi
  local root_pw app_pw
  root_pw=$(random_secret)
  app_pw=$(random_secret)
  mysql -uroot <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';
DELETE FROM mysql.user WHERE User='';
DROP DATABASE IF EXISTS test;
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;
CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$app_pw';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'%';
FLUSH PRIVILEGES;
SQL
  install -m 600 /dev/null /root/.my.cnf
  printf '[client]\nuser=root\npassword=%s\n' "$root_pw" > /root/.my.cnf
  install -m 600 /dev/null /root/app-db.env
  printf 'DB_NAME=%s\nDB_USER=%s\nDB_PASSWORD=%s\n' "$DB_NAME" "$DB_USER" "$app_pw" > /root/app-db.env
  echo "credentials written to /root/.my.cnf and /root/app-db.env (root only)"
}

configure_backups() {
  cat > /usr/local/sbin/mysql-backup <<'SH'
#!/bin/bash
set -euo pipefail
out=/var/backups/mysql/all-$(date +%Y%m%d-%H%M%S).sql.gz
mysqldump --all-databases --single-transaction --routines --events | gzip > "$out"
find /var/backups/mysql -name 'all-*.sql.gz' -mtime +7 -delete
SH
  chmod 700 /usr/local/sbin/mysql-backup
  cat > /etc/systemd/system/mysql-backup.service <<'UNIT'
[Unit]
Description=Dump all databases

[Service]
Type=oneshot
Environment=HOME=/root
ExecStart=/usr/local/sbin/mysql-backup
UNIT
  cat > /etc/systemd/system/mysql-backup.timer <<'UNIT'
[Unit]
Description=Nightly database dump

[Timer]
OnCalendar=*-*-* 03:00:00
Persistent=true

[Install]
WantedBy=timers.target
UNIT
  systemctl daemon-reload
  systemctl enable --now mysql-backup.timer
}

gm_step packages install_packages
gm_step data-volume mount_data
gm_step server configure_server
gm_step users secure_and_create
gm_step backups configure_backups
