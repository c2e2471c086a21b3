"""What 3CX knew about a request's address, as the stores keep it: JSON, each field by name."""

from __future__ import annotations

import json
from typing import Any

from ..domain.evidence import Evidence, Logged, Phone, Thresholds


def stored(evidence: Evidence | None) -> str | None:
    """How what 3CX knew is kept, its fields by name, the stored format whatever the dataclasses' fields become
    (None: it was not asked, NULL; a part 3CX did not tell, null)."""
    if evidence is None:
        return None
    e, t = evidence, evidence.thresholds
    logged = None if e.logged is None else [_logged_record(line) for line in e.logged]
    phones = (
        None if e.phones is None else [{"extension": p.extension, "name": p.name, "model": p.model} for p in e.phones]
    )
    thresholds = None if t is None else {"failed_auth": t.failed_auth, "block_for": t.block_for}
    return json.dumps({"logged": logged, "phones": phones, "thresholds": thresholds})


def _logged_record(line: Logged) -> dict[str, object]:
    return {"at": line.at, "text": line.text, "failed_auth": line.failed_auth, "extension": line.extension}


def read(text: str | None) -> Evidence | None:
    if text is None:
        return None
    data = json.loads(text)
    logged, phones, thresholds = data.get("logged"), data.get("phones"), data.get("thresholds")
    return Evidence(
        None if logged is None else tuple(_logged(line) for line in logged),
        None if phones is None else tuple(Phone(p.get("extension"), p.get("name"), p.get("model")) for p in phones),
        None if thresholds is None else Thresholds(thresholds.get("failed_auth"), thresholds.get("block_for")),
    )


def _logged(line: dict[str, Any]) -> Logged:
    return Logged(line.get("at"), str(line.get("text", "")), bool(line.get("failed_auth")), line.get("extension"))
