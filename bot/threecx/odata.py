"""OData query text, built only from values that are quoted here."""

from __future__ import annotations

from collections.abc import Iterable


def string_literal(value: str) -> str:
    """An OData string literal: quoted, with every ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def any_equal(field: str, values: Iterable[str]) -> str:
    """``field eq 'a' or field eq 'b' …``."""
    return " or ".join(f"{field} eq {string_literal(v)}" for v in values)


def contains(field: str, value: str) -> str:
    return f"contains({field},{string_literal(value)})"
