"""What 3CX did with an entry, and the one table that says each failure in plain words."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .entries import CallFailed


class Outcome(enum.StrEnum):
    """What 3CX did with one entry."""

    #: 3CX answered 204 to the DELETE (or, checked after a restart, no longer lists it)
    DELETED = "deleted"
    #: 3CX answered 404 to the DELETE: gone, but not by this request's hand
    ALREADY_GONE = "already_gone"
    #: an undo put the entry back (3CX answered 201, or lists it again)
    RESTORED = "restored"
    #: Allow only: an allow entry lets the asked address in (added by this request, or there already); the
    #: entry's block on its network stays
    ALLOWED = "allowed"
    # failures, one per kind of 3CX error
    NOT_FOUND = "not_found"
    CHANGED = "changed"
    CREDENTIALS = "credentials"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"
    OTHER = "other"
    INTERNAL = "internal"

    @classmethod
    def of(cls, error: CallFailed) -> Outcome:
        return cls(error.reason.value)

    @property
    def gone(self) -> bool:
        """The entry is off the blocklist."""
        return self in (Outcome.DELETED, Outcome.ALREADY_GONE)

    @property
    def explanation(self) -> Explanation:
        return EXPLANATIONS.get(self, EXPLANATIONS[Outcome.OTHER])


@dataclass(frozen=True, slots=True)
class Explanation:
    #: why, for the people in the channel (plain words; no setting names)
    people: str
    #: what to check, for an admin (the log, ``check``)
    admin: str = ""


#: every failure, in plain words; the one place these sentences are written (and what Allow only did, which is
#: no failure, though the block stays)
EXPLANATIONS: dict[Outcome, Explanation] = {
    Outcome.ALLOWED: Explanation("An allow entry lets the address asked for in; the block on its network stays."),
    Outcome.NOT_FOUND: Explanation("3CX has no such entry."),
    Outcome.CHANGED: Explanation(
        "It was changed in 3CX after the request was made, so the bot left it alone; ask again to see it as it is now."
    ),
    Outcome.CREDENTIALS: Explanation(
        "3CX rejected the bot's login; an admin needs to check the bot's 3CX credentials.",
        "Check THREECX_CLIENT_ID and THREECX_CLIENT_SECRET (3CX: Admin > Integrations > API).",
    ),
    Outcome.FORBIDDEN: Explanation(
        "3CX did not give the bot the right to do this; an admin needs to give its 3CX API client the System "
        "Admin role.",
        "Give the 3CX API client the System Admin role (3CX: Admin > Integrations > API).",
    ),
    Outcome.UNAVAILABLE: Explanation(
        "3CX could not be reached, was unavailable or did not answer in time, even after retries.",
        "Check THREECX_BASE_URL, the network, and THREECX_CA_BUNDLE for a private certificate.",
    ),
    Outcome.INTERNAL: Explanation("Something went wrong inside the bot; it was logged for an admin."),
    Outcome.OTHER: Explanation("3CX refused it."),
}
