"""Free ports on 127.0.0.1 for servers the tests start in other processes."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server another process will start. It is taken
    below the kernel's range for outgoing connections, so that no connection of the tests' own (which take
    their local port from that range) can take it before the server does."""
    low = _ephemeral_start()
    for _ in range(100):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the range for outgoing connections")


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
