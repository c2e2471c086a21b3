"""What 3CX knows about a blocked address, read from its XAPI: the newest lines of its event log that name it
(``/EventLogs``), the phones registered from it (``/SipDevices``), and its anti-hacking thresholds
(``/AntiHackingSettings``); the domain's :class:`~bot.domain.evidence.PbxEvidence`.

3CX is asked to filter where it can. For a network, or when 3CX refuses the filter (400), the newest lines or the
devices are read without one and the bot keeps those naming an address inside what was asked for. Either way an
address counts only as a whole address: 203.0.113.7 is not named by a line about 203.0.113.70.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from itertools import islice
from typing import Any

from ..domain.evidence import Logged, Phone, Thresholds
from .client import ThreeCXClient
from .errors import UnexpectedResponseError
from .lists import contains

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

EVENT_LOGS, SIP_DEVICES, ANTI_HACKING = "/EventLogs", "/SipDevices", "/AntiHackingSettings"
#: the newest event-log lines read when the bot filters them itself
LINES_READ = 300
#: the lines 3CX is asked for, per line shown, when it filters them (some may name another address)
LINES_PER_SHOWN = 5
#: the most devices read
DEVICES_READ = 500

# How a line of the event log is read (case-insensitive); these guesses are the only ones.
#: it tells of failed authentication: a word of authentication or registration, and one of failing, in any order
FAILED_AUTH = re.compile(r"^(?=.*\b(?:auth|regist)\w*)(?=.*\bfail\w*)", re.IGNORECASE | re.DOTALL)
#: the extension it names: "extension 104", "Ext. 104", "Extension: 104"
EXTENSION = re.compile(r"\b(?:extension|ext)\b\.?:?\s*(\d+)\b", re.IGNORECASE)
#: failing that, a parameter of the line that is an extension's number: digits alone, as many as 3CX's numbers have
EXTENSION_PARAM = re.compile(r"\d{2,7}")

#: what may hold an address in text: hex digits, dots and colons (an address with a port, or inside brackets)
_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]+")


class ThreeCXEvidence:
    """The domain's ``PbxEvidence``, read through ``client``."""

    def __init__(self, client: ThreeCXClient) -> None:
        self._client = client

    async def logged(self, address: str, count: int) -> tuple[Logged, ...]:
        """The newest ``count`` event-log lines that name the address, or an address inside the network."""
        wanted = _network(address)
        if wanted is None:
            return ()
        newest = {"$orderby": "TimeGenerated desc"}
        if wanted.num_addresses == 1:
            text = str(wanted.network_address)
            found = f"{contains('Message', text)} or Params/any(p: {contains('p', text)})"
            # 3CX's contains also finds 203.0.113.70 for 203.0.113.7: a few more lines than shown, kept whole below
            top = str(count * LINES_PER_SHOWN)
            lines = await self._filtered(EVENT_LOGS, {"$filter": found, **newest, "$top": top})
        else:
            lines = None
        if lines is None:
            lines = await self._values(EVENT_LOGS, {**newest, "$top": str(LINES_READ)})
        return tuple(islice((_logged(line) for line in lines if _names(wanted, _texts(line))), count))

    async def phones(self, address: str) -> tuple[Phone, ...]:
        """The phones registered from the address, or from an address inside the network."""
        wanted = _network(address)
        if wanted is None:
            return ()
        read = {"$expand": "DN", "$top": str(DEVICES_READ)}
        if wanted.num_addresses == 1:
            found = contains("Registrar/IpAddress", str(wanted.network_address))
            devices = await self._filtered(SIP_DEVICES, {**read, "$filter": found})
        else:
            devices = None
        if devices is None:
            devices = await self._values(SIP_DEVICES, read)
        return tuple(_phone(device) for device in devices if _registered_in(wanted, device))

    async def thresholds(self) -> Thresholds:
        """After how many failed authentications 3CX blocks an address, and for how long."""
        settings = (await self._client.read(ANTI_HACKING)).json()
        if not isinstance(settings, dict):
            raise UnexpectedResponseError("3CX answered with something that is not its anti-hacking settings")
        return Thresholds(
            failed_auth=_whole(settings.get("HackAuthRequests")),
            block_for=_whole(settings.get("HackBlacklistDuration")),
        )

    async def _filtered(self, path: str, options: Mapping[str, str]) -> list[dict[str, Any]] | None:
        """What 3CX lists with the filter in ``options``; None when it refuses the filter (400)."""
        try:
            return await self._values(path, options)
        except UnexpectedResponseError as error:
            if error.status == 400:
                return None
            raise

    async def _values(self, path: str, options: Mapping[str, str]) -> list[dict[str, Any]]:
        values = (await self._client.read(path, options)).values()
        if not all(isinstance(value, dict) for value in values):
            raise UnexpectedResponseError(f"3CX answered with something that is not a list of {path[1:]}")
        return values


def _network(address: str) -> Network | None:
    """The network (one address: a network of one) an address or network names; None for neither."""
    try:
        return ip_network(address.strip(), strict=False)
    except ValueError:
        return None


def addresses_in(text: str) -> set[Address]:
    """Every whole address in ``text``: ``203.0.113.7``, ``203.0.113.7:5060``, ``[2001:db8::1]:5060``."""
    found: set[Address] = set()
    for candidate in _CANDIDATE.findall(text):
        trimmed = candidate.rstrip(".")
        # an address, or the host of host:port (one colon: IPv4 with a port)
        for host in (trimmed, trimmed.rstrip(":"), trimmed.partition(":")[0] if trimmed.count(":") == 1 else ""):
            with suppress(ValueError):
                found.add(ip_address(host))
                break
    return found


def _names(wanted: Network, texts: list[str]) -> bool:
    return any(found in wanted for text in texts for found in addresses_in(text) if found.version == wanted.version)


def _texts(line: Mapping[str, Any]) -> list[str]:
    """A line's message and its parameters, the text that may name an address."""
    params = line.get("Params")
    return [str(text) for text in [line.get("Message"), *(params if isinstance(params, list) else [])] if text]


def _logged(line: Mapping[str, Any]) -> Logged:
    """A line as 3CX wrote it: its message (its parameters, when it has no message), when, and what it tells."""
    params = [str(p) for p in line.get("Params") or [] if isinstance(p, str | int)]
    message = line.get("Message")
    text = message if isinstance(message, str) and message.strip() else ", ".join(params)
    named = EXTENSION.search(text)
    extension = named[1] if named else next((p for p in params if EXTENSION_PARAM.fullmatch(p)), None)
    failed = bool(FAILED_AUTH.match(text))
    return Logged(at=_epoch(line.get("TimeGenerated")), text=text, failed_auth=failed, extension=extension)


def _epoch(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time with an offset; None for anything else."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment.timestamp() if moment is not None and moment.tzinfo is not None else None


def _registered_in(wanted: Network, device: Mapping[str, Any]) -> bool:
    """Whether the device registered from an address of ``wanted``: the host of its registrar's address, exactly
    (3CX may write it with a port, an IPv6 address in brackets)."""
    registrar = device.get("Registrar")
    written = registrar.get("IpAddress") if isinstance(registrar, dict) else None
    if not isinstance(written, str):
        return False
    host = written.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        found = ip_address(host)
    except ValueError:
        return False
    return found.version == wanted.version and found in wanted


def _phone(device: Mapping[str, Any]) -> Phone:
    """A device as a phone: its extension's number and name, and its make and model."""
    dn, registrar = device.get("DN"), device.get("Registrar")
    peer = dn if isinstance(dn, dict) else {}
    made = registrar if isinstance(registrar, dict) else {}
    model = " ".join(str(made[k]).strip() for k in ("Vendor", "Model") if isinstance(made.get(k), str)).strip()
    return Phone(extension=_text(peer.get("Number")), name=_text(peer.get("Name")), model=model or None)


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _whole(value: Any) -> int | None:
    return value if type(value) is int else None
