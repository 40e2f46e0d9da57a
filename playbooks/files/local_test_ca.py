# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded local test CA of the demo: Debian's pebble on 127.0.0.1, with what it needs.

    local_test_ca.py start --dir DIR   # prints JSON: directory_url, ca_path, webroot
    local_test_ca.py stop --dir DIR

`start` generates a TLS certificate for pebble's own listener, starts pebble-challtestsrv as the
DNS server pebble resolves names with (every name answers 127.0.0.1), a web server for the http-01
webroot on pebble's validation port, and pebble itself, and waits until the directory answers.
`stop` stops exactly the processes `start` recorded. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def write_tls_files(directory: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost; clients trust it as the CA bundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certforge.acme local test CA listener")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(directory, "listener.pem"), os.path.join(directory, "listener.key")
    with open(cert_path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def spawn(command: list[str], log_path: str, environment: dict[str, str] | None = None) -> int:
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env={**os.environ, **(environment or {})})
    return process.pid


def directory_answers(url: str, ca_path: str) -> bool:
    context = ssl.create_default_context(cafile=ca_path)
    try:
        with urllib.request.urlopen(url, context=context, timeout=1) as response:  # noqa: S310 - loopback https only
            return response.status == 200
    except OSError:
        return False


def start(directory: str) -> dict[str, object]:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    webroot = os.path.join(directory, "webroot")
    os.makedirs(webroot, exist_ok=True)
    cert_path, key_path = write_tls_files(directory)
    ports = {"acme": free_port(), "management": free_port(), "http": free_port(), "tls": free_port(), "dns": free_port()}
    config = {
        "pebble": {
            "listenAddress": f"{LOOPBACK}:{ports['acme']}",
            "managementListenAddress": f"{LOOPBACK}:{ports['management']}",
            "certificate": cert_path,
            "privateKey": key_path,
            "httpPort": ports["http"],
            "tlsPort": ports["tls"],
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    config_path = os.path.join(directory, "pebble.json")
    with open(config_path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    pids = [
        spawn(
            [
                "pebble-challtestsrv",
                "-dns01",
                f"{LOOPBACK}:{ports['dns']}",
                "-defaultIPv4",
                LOOPBACK,
                "-defaultIPv6",
                "",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                f"{LOOPBACK}:{free_port()}",
            ],
            os.path.join(directory, "dns.log"),
        ),
        spawn([sys.executable, "-m", "http.server", "--bind", LOOPBACK, "--directory", webroot, str(ports["http"])], os.path.join(directory, "webroot.log")),
        spawn(
            ["pebble", "-config", config_path, "-dnsserver", f"{LOOPBACK}:{ports['dns']}"], os.path.join(directory, "pebble.log"), {"PEBBLE_VA_NOSLEEP": "1"}
        ),
    ]
    state = {"directory_url": f"https://{LOOPBACK}:{ports['acme']}/dir", "ca_path": cert_path, "webroot": webroot, "pids": pids}
    with open(os.path.join(directory, "state.json"), "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not directory_answers(str(state["directory_url"]), cert_path):
        if time.monotonic() > deadline:
            stop(directory)
            raise SystemExit(f"the local test CA did not start; see the logs in {directory}")
        time.sleep(0.1)
    return state


def stop(directory: str) -> list[int]:
    try:
        with open(os.path.join(directory, "state.json"), encoding="utf-8") as handle:
            pids = json.load(handle)["pids"]
    except (OSError, ValueError, KeyError):
        return []
    stopped = []
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped.append(pid)
        except OSError:
            pass  # already gone
    os.unlink(os.path.join(directory, "state.json"))
    return stopped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", required=True, help="working directory for configuration, state and logs")
    arguments = parser.parse_args()
    result = start(arguments.dir) if arguments.action == "start" else {"stopped": stop(arguments.dir)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
