"""The 3CX XAPI: typed errors and models here; the aiohttp client in ``bot.threecx.client``.

The client is not imported here so that the domain can use the errors and
models without pulling in aiohttp.
"""

from .errors import (
    ChangedError,
    CredentialsError,
    ForbiddenError,
    NotFoundError,
    ThreeCXError,
    UnavailableError,
    UnexpectedResponseError,
)
from .models import MAX_ENTRY_ID, MIN_ENTRY_ID, BlockedNumber, BlocklistEntry, Target, is_entry_id

__all__ = [
    "MAX_ENTRY_ID",
    "MIN_ENTRY_ID",
    "BlockedNumber",
    "BlocklistEntry",
    "ChangedError",
    "CredentialsError",
    "ForbiddenError",
    "NotFoundError",
    "Target",
    "ThreeCXError",
    "UnavailableError",
    "UnexpectedResponseError",
    "is_entry_id",
]
