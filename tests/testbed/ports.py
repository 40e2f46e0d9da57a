"""Free loopback ports for the test servers."""

from __future__ import annotations

import socket

LOOPBACK = '127.0.0.1'


def free_port() -> int:
    """Return a port that is free on 127.0.0.1 for both TCP and UDP right now.

    The kernel picks an unused TCP port; UDP is checked too because DNS needs both.
    Another process could still take the port before the server binds it, but ports
    handed out by the kernel are not reused immediately, so that race is rare.
    """
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((LOOPBACK, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((LOOPBACK, port))
                except OSError:
                    continue
            return port
    raise OSError('no port free for both TCP and UDP on %s' % LOOPBACK)
