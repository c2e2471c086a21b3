"""What a list did with an entry, or why a call to it failed: one word for both."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    """What a list did with one entry, or why a call to it failed."""

    #: the entry was removed (or, checked after a restart, is no longer listed)
    DELETED = "deleted"
    #: the entry was gone already, but not by this request's hand
    ALREADY_GONE = "already_gone"
    #: an undo put the entry back (or it is listed again)
    RESTORED = "restored"
    #: Allow only: an allow entry lets the asked address in (added by this request, or there already); the
    #: entry's block on its network stays
    ALLOWED = "allowed"
    # failures, one per kind of error a list reports
    NOT_FOUND = "not_found"
    CHANGED = "changed"
    CREDENTIALS = "credentials"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"
    OTHER = "other"
    INTERNAL = "internal"

    @property
    def gone(self) -> bool:
        """The entry is off the blocklist."""
        return self in (Outcome.DELETED, Outcome.ALREADY_GONE)
