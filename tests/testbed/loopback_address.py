"""A loopback address of the session's own for servers that must listen on fixed ports.

acme2certifier fetches http-01 only from port 80 and asks its DNS servers only on port 53.
Linux routes all of 127.0.0.0/8 to the loopback interface, so each test session takes an
address 127.0.0.N on which both ports are free: two sessions (or other helpers' servers on
127.0.0.1:80) never meet. Binding below port 1024 needs root, as CI has.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

from .errors import TestbedError

FIXED_PORTS = (80, 53)
# 127.0.0.1 stays for the servers on high ports; .255 would be a broadcast-looking address.
CANDIDATE_HOSTS = range(2, 255)


def _free_on(address: str, ports: Iterable[int]) -> str | None:
    """None when TCP (and UDP for 53) ``ports`` can all be bound on ``address`` now, else why not."""
    for port in ports:
        kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if port == 53 else (socket.SOCK_STREAM,)
        for kind in kinds:
            with socket.socket(socket.AF_INET, kind) as probe:
                try:
                    probe.bind((address, port))
                except OSError as error:
                    return f'{address}:{port}/{"tcp" if kind == socket.SOCK_STREAM else "udp"}: {error.strerror}'
    return None


def pick_loopback_address(ports: Iterable[int] = FIXED_PORTS, *, rng: random.Random | None = None) -> str:
    """Return an address 127.0.0.N (N chosen at random) on which every port in ``ports`` is free.

    A random start keeps concurrent sessions apart; the servers bind moments later, and a
    server that then finds its port taken fails to start with its own message.
    """
    wanted = tuple(ports)
    hosts = list(CANDIDATE_HOSTS)
    (rng or random.Random()).shuffle(hosts)
    last_reason = ''
    for host in hosts:
        address = f'127.0.0.{host}'
        reason = _free_on(address, wanted)
        if reason is None:
            return address
        last_reason = reason
        if 'Permission denied' in reason:
            raise TestbedError(f'cannot bind {reason}: acme2certifier needs ports {wanted} on loopback; run the tests as root')
    raise TestbedError(f'no loopback address 127.0.0.2-254 has ports {wanted} free (last: {last_reason})')
