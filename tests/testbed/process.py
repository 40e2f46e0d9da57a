"""Start a server as a child process, wait until it is ready, and stop exactly that process."""

from __future__ import annotations

import atexit
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

from .errors import TestbedError

START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0
POLL_INTERVAL_SECONDS = 0.05
LOG_TAIL_LINES = 40


def log_tail(log_path: pathlib.Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a log file, or a note that there is none."""
    try:
        text = log_path.read_text(encoding='utf-8', errors='replace')
    except FileNotFoundError:
        return f'(no log at {log_path})'
    return '\n'.join(text.splitlines()[-lines:])


class ServerProcess:
    """One server process with its own process group and its output in a log file.

    The process group lets ``stop`` also end helpers the server may fork, without touching
    any process this object did not start.
    """

    def __init__(
        self, *, name: str, argv: Sequence[str], log_path: pathlib.Path, cwd: pathlib.Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's pid while it is running (it is also its process group id)."""
        return self._process.pid if self._process is not None else None

    def start(self, *, ready: Callable[[], bool], timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start the process and return once ``ready()`` is true; stop it and raise otherwise."""
        if self._process is not None:
            raise TestbedError(f'{self.name} is already running (pid {self._process.pid})')
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open('ab') as log:
            self._process = subprocess.Popen(  # pylint: disable=consider-using-with  # lives until stop()
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Fixtures stop servers at teardown; this also covers scripts that forget to.
        atexit.register(self.stop)
        try:
            self._wait_until_ready(self._process.pid, ready, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, pid: int, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            exit_status = _exit_status(pid)
            if exit_status is not None:
                raise self._start_error(f'exited with status {exit_status} while starting')
            if ready():
                return
            if time.monotonic() > deadline:
                raise self._start_error(f'was not ready within {timeout:.0f} s')
            time.sleep(POLL_INTERVAL_SECONDS)

    def _start_error(self, what: str) -> TestbedError:
        return TestbedError(f'{self.name} {what}.\ncommand: {" ".join(self.argv)}\nlast lines of {self.log_path}:\n{log_tail(self.log_path)}')

    def stop(self) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL) and reap the process. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            if not _wait_for_exit(process.pid, STOP_TIMEOUT_SECONDS):
                _signal_group(process.pid, signal.SIGKILL)
            # The leader is a zombie until reaped, so its group id cannot have been reused:
            # this only reaches helpers of this server that outlived it.
            _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _exit_status(pid: int) -> int | None:
    """Return a child's exit status (or signal) if it exited, without reaping it.

    WNOWAIT leaves the child a zombie, which keeps its pid and process group id reserved.
    """
    try:
        result = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return -1
    return None if result is None else result.si_status


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _exit_status(pid) is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_INTERVAL_SECONDS)
    return True


def _signal_group(process_group: int, signal_number: signal.Signals) -> None:
    try:
        os.killpg(process_group, signal_number)
    except ProcessLookupError:
        pass
