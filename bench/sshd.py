"""An sshd of our own on 127.0.0.1 at a high port, for measuring Ansible's SSH settings.

It has its own configuration, host key and authorized key in the work directory and is started and
stopped by pid; the machine's own sshd (if any) is never touched. Debian's ``openssh-server`` binary
is enough; it need not be installed: ``apt-get download openssh-server libwrap0`` and ``dpkg -x``
into a directory, then ``--sshd <dir>/usr/sbin/sshd`` (the libraries beside it are found).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

from testbed.ports import LOOPBACK, free_port

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
PRIVILEGE_SEPARATION_DIRECTORY = pathlib.Path('/run/sshd')  # compiled into Debian's sshd


class SshdError(RuntimeError):
    """sshd could not be started here."""


def find_sshd(explicit: str | None) -> pathlib.Path | None:
    """The sshd binary: the one given, else the system's if installed."""
    if explicit:
        return pathlib.Path(explicit)
    found = shutil.which('sshd') or ('/usr/sbin/sshd' if os.path.exists('/usr/sbin/sshd') else None)
    return pathlib.Path(found) if found else None


class LoopbackSshd:
    """sshd -D on 127.0.0.1:<free port>, accepting one generated key for the current user."""

    def __init__(self, work_dir: pathlib.Path, *, binary: pathlib.Path) -> None:
        self.work_dir = work_dir
        self.binary = binary
        self.port = free_port()
        self.client_key = work_dir / 'client_ed25519'
        self._process: subprocess.Popen[bytes] | None = None
        work_dir.mkdir(parents=True, exist_ok=True)
        for key in (work_dir / 'host_ed25519', self.client_key):
            if not key.exists():
                subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key)], check=True)
        (work_dir / 'authorized_keys').write_text(self.client_key.with_suffix('.pub').read_text(encoding='ascii'), encoding='ascii')
        self.config = work_dir / 'sshd_config'
        self.config.write_text(
            '\n'.join(
                (
                    f'ListenAddress {LOOPBACK}:{self.port}',
                    f'HostKey {work_dir / "host_ed25519"}',
                    f'AuthorizedKeysFile {work_dir / "authorized_keys"}',
                    f'PidFile {work_dir / "sshd.pid"}',
                    'PermitRootLogin prohibit-password',
                    'PasswordAuthentication no',
                    'KbdInteractiveAuthentication no',
                    'UsePAM no',
                    'StrictModes no',
                    'MaxSessions 100',
                    'MaxStartups 100:30:200',
                    'Subsystem sftp internal-sftp',
                    'LogLevel ERROR',
                )
            )
            + '\n',
            encoding='ascii',
        )

    def environment(self) -> dict[str, str]:
        """Libraries unpacked beside the binary (libwrap0) are found."""
        environment = dict(os.environ)
        libraries = [
            str(path)
            for path in (self.binary.parents[2] / 'usr' / 'lib' / 'x86_64-linux-gnu', self.binary.parents[2] / 'lib' / 'x86_64-linux-gnu')
            if path.is_dir()
        ]
        if libraries:
            environment['LD_LIBRARY_PATH'] = os.pathsep.join(libraries + [environment.get('LD_LIBRARY_PATH', '')]).rstrip(os.pathsep)
        return environment

    def start(self) -> None:
        """Start sshd in the foreground (a child of this process) and wait until it accepts connections."""
        # Debian's sshd refuses to start without its privilege separation directory (an empty directory).
        PRIVILEGE_SEPARATION_DIRECTORY.mkdir(mode=0o755, exist_ok=True)
        log = (self.work_dir / 'sshd.log').open('ab')
        self._process = subprocess.Popen(  # pylint: disable=consider-using-with  # lives until stop()
            [str(self.binary.resolve()), '-D', '-e', '-f', str(self.config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.environment()
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SshdError(f'sshd exited with {self._process.returncode}: {(self.work_dir / "sshd.log").read_text(errors="replace")[-800:]}')
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SshdError(f'sshd did not accept connections on {LOOPBACK}:{self.port}')

    @property
    def pid(self) -> int | None:
        """The listener's pid while it runs."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """SIGTERM the listener and reap it (its reaped sessions' CPU comes with it)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
