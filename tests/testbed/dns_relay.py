"""Relays DNS over UDP and TCP from one loopback address and port to another, byte for byte.

named only listens on addresses configured on an interface, and 127.0.0.N (N > 1) is routed
to loopback without being one. acme2certifier asks DNS only on port 53, so this relay takes
<session address>:53 and passes every query and RFC 2136 update to BIND on 127.0.0.1:<port>.

Run as a script: ``python dns_relay.py LISTEN_ADDRESS LISTEN_PORT UPSTREAM_ADDRESS UPSTREAM_PORT``.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading

UPSTREAM_TIMEOUT_SECONDS = 5.0
MAX_UDP_MESSAGE = 65535


class _Relay:
    upstream: tuple[str, int] = ('127.0.0.1', 53)


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        query, listener = self.request
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(UPSTREAM_TIMEOUT_SECONDS)
            upstream.sendto(query, _Relay.upstream)
            try:
                answer = upstream.recv(MAX_UDP_MESSAGE)
            except socket.timeout:
                return  # the client retries or times out, as with a lost datagram
        listener.sendto(answer, self.client_address)


def _pump(source: socket.socket, destination: socket.socket) -> None:
    try:
        while data := source.recv(MAX_UDP_MESSAGE):
            destination.sendall(data)
    except OSError:
        pass
    finally:
        try:
            destination.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with socket.create_connection(_Relay.upstream, timeout=UPSTREAM_TIMEOUT_SECONDS) as upstream:
            upstream.settimeout(None)
            backwards = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
            backwards.start()
            _pump(self.request, upstream)
            backwards.join()


class _UdpServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: list[str]) -> None:
    """Relay until killed."""
    listen_address, listen_port, upstream_address, upstream_port = argv
    _Relay.upstream = (upstream_address, int(upstream_port))
    udp = _UdpServer((listen_address, int(listen_port)), _UdpHandler)
    tcp = _TcpServer((listen_address, int(listen_port)), _TcpHandler)
    threading.Thread(target=udp.serve_forever, daemon=True).start()
    tcp.serve_forever()


if __name__ == '__main__':
    main(sys.argv[1:])
