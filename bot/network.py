"""Why no connection to a host could be made, in words, for ``check``, the start and the logs: its name was not
resolved, the connection was refused or not routed, a proxy failed. An answer that came, or a certificate that was
refused, is not this: the host was reached."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import aiohttp


def unreached(error: BaseException) -> str | None:
    """Why no connection was made (``its name could not be resolved``, ``connection refused``, ``the proxy
    proxy.acme.net:3128 could not be reached: connection refused``); None when the host was reached."""
    if isinstance(error, aiohttp.ClientSSLError):  # (a certificate refused, too): the host answered
        return None
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return "its name could not be resolved"
    if isinstance(error, aiohttp.ClientProxyConnectionError):
        return f"the proxy {error.host}:{error.port} could not be reached: {_reason(error.os_error)}"
    if isinstance(error, aiohttp.ClientHttpProxyError):
        return f"the proxy refused to connect to it (HTTP {error.status})"
    if isinstance(error, aiohttp.ClientConnectorError):
        return _reason(error.os_error)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return "no connection was made in time"
    return None


def host(url: str) -> str:
    """The host a URL names, with its port when one is given: ``slack.com``, ``pbx.acme.net:5001``."""
    parts = urlsplit(url)
    return (parts.hostname or url) + (f":{parts.port}" if parts.port else "")


def _reason(error: OSError) -> str:
    """``connection refused``, ``no route to host``: the system's words for a failed connection."""
    if isinstance(error, socket.gaierror):
        return "its name could not be resolved"
    if error.errno is not None and error.errno > 0:
        return os.strerror(error.errno).lower()
    return str(error) or "no connection"
