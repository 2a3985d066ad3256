#!/usr/bin/env python3
"""Runs a throwaway PostgreSQL on 127.0.0.1:PORT, in its own temporary folder, until stdin
closes; then stops it and removes the folder.

Tests start it with a pipe on stdin, like moto: when their process ends, for whatever reason,
the server goes too. Prints "ready PORT CERTDIR" once it accepts connections. initdb refuses to
run as root, so as root the cluster belongs to `nobody`. Authentication is `trust` on loopback
only: this server is for tests, never for data.

TLS is on, with a certificate for localhost and 127.0.0.1 from a throwaway CA (CERTDIR/ca.pem;
CERTDIR/other-ca.pem is a CA that signed nothing here). The database `gm_tls` refuses plain
connections, so a test that reaches it proves the connection was encrypted.

Further server settings can follow the port as NAME=VALUE (the benchmark sizes shared_buffers).
"""
import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def as_owner(cmd, root):
    return ["runuser", "-u", "nobody", "--", *cmd] if root else cmd


def certificates(base, owner_dir):
    """A CA, a server certificate it signs, and an unrelated CA; returns (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    pem = serialization.Encoding.PEM

    def ca(name):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert

    ca_key, ca_cert = ca("geusemaker test CA")
    _, other = ca("geusemaker unrelated CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    with open(os.path.join(base, "ca.pem"), "wb") as f:
        f.write(ca_cert.public_bytes(pem))
    with open(os.path.join(base, "other-ca.pem"), "wb") as f:
        f.write(other.public_bytes(pem))
    crt, k = os.path.join(owner_dir, "server.crt"), os.path.join(owner_dir, "server.key")
    with open(crt, "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(k, "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    os.chmod(k, 0o600)
    return crt, k


def main() -> None:
    port = int(sys.argv[1])
    root = os.geteuid() == 0
    base = tempfile.mkdtemp(prefix="gm-pg-")
    data = os.path.join(base, "data")
    if root:
        shutil.chown(base, user="nobody")
    subprocess.run(as_owner(["initdb", "-D", data, "-A", "trust", "-U", "gm", "-E", "UTF8"], root),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    crt, key = certificates(base, data)
    hba = os.path.join(data, "pg_hba.conf")
    with open(hba) as f:
        rules = f.read()
    with open(hba, "w") as f:
        f.write("hostnossl gm_tls all 127.0.0.1/32 reject\n" + rules)
    if root:
        for p in (crt, key, hba):
            shutil.chown(p, user="nobody")
    server = subprocess.Popen(
        as_owner(["postgres", "-D", data, "-p", str(port), "-k", base, "-c", "listen_addresses=127.0.0.1",
                  "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "ssl=on",
                  "-c", f"ssl_cert_file={crt}", "-c", f"ssl_key_file={key}",
                  *[a for s in sys.argv[2:] for a in ("-c", s)]], root),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.2)
        print(f"ready {port} {base}", flush=True)
        while sys.stdin.read(1):
            pass
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
