"""How a problem repeats what someone wrote (a setting's value, a key or a value of the rules file): cut short, so
that one line stays one readable line whatever was written."""

from __future__ import annotations

#: the most characters of someone's text that a problem repeats
ECHOED = 60


def clipped(text: str, most: int = ECHOED) -> str:
    """``text`` as a problem repeats it: cut short, ending in "...", when longer than ``most`` characters."""
    return text if len(text) <= most else text[: most - 3] + "..."


def some_of(items: list[str], most: int = 3) -> str:
    """The first ``most`` of ``items``, each clipped, and how many more: ``a, b, c and 19,997 more``."""
    shown = ", ".join(clipped(item) for item in items[:most])
    return shown if len(items) <= most else f"{shown} and {len(items) - most:,} more"
