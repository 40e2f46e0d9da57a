#!/usr/bin/python
# Copyright: certforge.acme contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: acme_tls_alpn_responder
short_description: Run a temporary tls-alpn-01 responder on the host for the validation window
version_added: 0.1.0
description:
  - Starts a small background process on the host that answers TLS connections negotiating ALPN
    C(acme-tls/1) with the challenge certificate of the requested name (RFC 8737), and stops it again.
  - The process stops by itself after O(timeout) seconds even if nobody stops it.
  - It needs the port the CA connects to (443) for itself; a web server on that port must make room
    during validation, or use http-01 or dns-01 instead.
attributes:
  check_mode:
    description: Reports whether a responder would be started or stopped.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  idempotent:
    description: Stopping a responder that is not running changes nothing; starting always (re)starts it with the given challenges.
    support: partial
options:
  name:
    description: Names this responder, so that several certificates of one host can be validated one after another.
    type: str
    default: default
  state:
    description: V(started) (re)starts the responder with O(challenges); V(stopped) stops it.
    type: str
    choices: [started, stopped]
    default: started
  challenges:
    description:
      - The tls-alpn-01 entries to serve, each with C(resource) (the SNI name), C(certificate) and C(private_key),
        as RV(certforge.acme.acme_order#module:challenge_data) gives them; a dict shaped like that whole result works too.
      - Required with O(state=started).
    type: raw
  listen:
    description: IP address to listen on (IPv4 or IPv6); V(0.0.0.0) or V(::) listens on all.
    type: str
    default: 0.0.0.0
  port:
    description: Port the CA connects to.
    type: int
    default: 443
  timeout:
    description: Seconds after which the responder stops by itself.
    type: int
    default: 600
  runtime_dir:
    description: Private directory for the responder's script, challenge file, pid file and log.
    type: path
    default: ~/.ansible/certforge-acme
author:
  - certforge.acme developers (@certforge)
"""

EXAMPLES = r"""
- name: Answer tls-alpn-01 on port 443 while the CA validates
  certforge.acme.acme_tls_alpn_responder:
    challenges: "{{ cert_order.challenge_data }}"

- name: Stop it again
  certforge.acme.acme_tls_alpn_responder:
    state: stopped
"""

RETURN = r"""
pid:
  description: Process id of the running responder.
  returned: when started
  type: int
names:
  description: The SNI names served.
  returned: when started
  type: list
  elements: str
"""

import inspect
import json
import os
import signal
import socket
import sys
import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.certforge.acme.plugins.module_utils import tls_alpn_responder
from ansible_collections.certforge.acme.plugins.module_utils._acme.files import write_file_atomically
from ansible_collections.certforge.acme.plugins.module_utils.background_process import start_detached
from ansible_collections.certforge.acme.plugins.module_utils.host_support import create_host_module, failing_on_host_errors
from ansible_collections.certforge.acme.plugins.module_utils.input_checks import check_at_least, check_ip_address, check_port

STARTUP_SECONDS = 10.0
STOP_SECONDS = 5.0


class Paths(t.NamedTuple):
    directory: str
    script: str
    challenges: str
    pid: str
    log: str


def paths_for(params: dict[str, t.Any]) -> Paths:
    directory = os.path.join(params["runtime_dir"], f"tls-alpn-{params['name']}")
    return Paths(
        directory=directory,
        script=os.path.join(directory, "tls_alpn_responder.py"),
        challenges=os.path.join(directory, "challenges.json"),
        pid=os.path.join(directory, "responder.pid"),
        log=os.path.join(directory, "responder.log"),
    )


def running_pid(paths: Paths) -> int | None:
    """The responder's pid, if it still runs; a stale pid file may name some other process by now."""
    try:
        with open(paths.pid, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if paths.script.encode() not in handle.read():
                return None
    except (OSError, ValueError):
        return None
    return pid


def stop(paths: Paths) -> bool:
    pid = running_pid(paths)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while running_pid(paths) == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    if running_pid(paths) == pid:
        os.kill(pid, signal.SIGKILL)
        os.unlink(paths.pid)  # a killed responder cannot remove its own
    return True


def _log_tail(paths: Paths) -> str:
    try:
        with open(paths.log, encoding="utf-8", errors="replace") as handle:
            return handle.read()[-600:].strip()
    except OSError:
        return ""


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host, port), 0.5):
            return True
    except OSError:
        return False


def start(module: AnsibleModule, paths: Paths, challenges: list[tls_alpn_responder.TlsAlpnChallenge]) -> int:
    params = module.params
    os.makedirs(paths.directory, mode=0o700, exist_ok=True)
    os.chmod(paths.directory, 0o700)
    write_file_atomically(paths.script, inspect.getsource(tls_alpn_responder).encode("utf-8"), mode=0o600)
    entries = [{"resource": item.server_name, "certificate": item.certificate_pem, "private_key": item.private_key_pem} for item in challenges]
    write_file_atomically(paths.challenges, json.dumps(entries).encode("utf-8"), mode=0o600)
    listen = f"[{params['listen']}]:{params['port']}" if ":" in params["listen"] else f"{params['listen']}:{params['port']}"
    command = [sys.executable, paths.script, "--listen", listen, "--challenges", paths.challenges, "--pid-file", paths.pid, "--timeout", str(params["timeout"])]
    process = start_detached(command, log_path=paths.log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            module.fail_json(msg=f"port: the tls-alpn-01 responder could not start on {listen}: {_log_tail(paths) or 'no output'}")
        if running_pid(paths) == process.pid and _answers(params["listen"], params["port"]):
            return process.pid
        time.sleep(0.05)
    process.kill()
    module.fail_json(msg=f"the tls-alpn-01 responder did not answer on {listen} within {STARTUP_SECONDS:g} s: {_log_tail(paths)}")
    return -1  # not reached: fail_json exits


def main() -> None:
    module = create_host_module(
        argument_spec={
            "name": {"type": "str", "default": "default"},
            "state": {"type": "str", "choices": ["started", "stopped"], "default": "started"},
            "challenges": {"type": "raw"},
            "listen": {"type": "str", "default": "0.0.0.0"},
            "port": {"type": "int", "default": 443},
            "timeout": {"type": "int", "default": 600},
            "runtime_dir": {"type": "path", "default": "~/.ansible/certforge-acme"},
        },
        required_if=[("state", "started", ("challenges",))],
        supports_check_mode=True,
    )
    params = module.params
    if "/" in params["name"] or params["name"] in (".", ".."):
        module.fail_json(msg="name: use letters, digits, '.', '_' or '-'")
    paths = paths_for(params)
    if params["state"] == "started":
        with failing_on_host_errors(module):
            check_port(params["port"], option="port")
            check_ip_address(params["listen"], option="listen")
            check_at_least(params["timeout"], 1, option="timeout")
    if params["state"] == "stopped":
        if module.check_mode:
            module.exit_json(changed=running_pid(paths) is not None)
        module.exit_json(changed=stop(paths))
    try:
        challenges = tls_alpn_responder.challenges_from_data(params["challenges"])
    except tls_alpn_responder.ResponderError as error:
        module.fail_json(msg=f"challenges: {error}")
    if not challenges:
        module.fail_json(msg="challenges: no tls-alpn-01 entry to serve")
    names = [item.server_name for item in challenges]
    if module.check_mode:
        module.exit_json(changed=True, names=names)
    try:
        stop(paths)  # a responder of an earlier attempt holds the port
        pid = start(module, paths, challenges)
    except OSError as error:
        module.fail_json(msg=f"runtime_dir: cannot prepare the responder in {paths.directory}: {error.strerror}")
    module.exit_json(changed=True, pid=pid, names=names)


if __name__ == "__main__":
    main()
