"""Two PBXes served by one bot, as the tests of ``UNBLOCK_PBXES`` set them up: acme, whose channel is shared with
a customer's workspace (Slack Connect), and beta (the fixtures ``beta`` and ``fleet`` are in ``conftest.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fakes.threecx import FakeThreeCX
from .harness import BOB, Harness

if TYPE_CHECKING:
    from .conftest import MakeHarness

ACME_ROOM, BETA_ROOM = "C0ACME", "C0BETA"
#: the form's select of the PBXes (as its block names it)
PBX = "unblock_pbx"
UNKNOWN_REQUEST = "The bot has no record of this request, so nothing was done. Ask again with `/unblock`."
#: a customer's workspace, sharing acme's channel with the provider's (Slack Connect), and a stranger's
CUSTOMER, STRANGER = "TCUSTOMER", "TSTRANGER"
#: the customer's people: one acme's approvers name, one they do not
CUSTOMER_ADMIN, CUSTOMER_USER = "UCUSTADMIN", "UCUSTUSER"


def pbxes_file(path: Path, acme: FakeThreeCX, beta: FakeThreeCX, beta_rules: Path | None = None) -> str:
    """A PBXes file of two: acme (its channel shared with the customer's workspace) and beta (with its own rules
    file, when given)."""
    path.write_text(
        f"""
[[pbx]]
name = "acme"
url = "{acme.base_url}"
client_id = "{acme.client_id}"
client_secret_env = "ACME_SECRET"
channels = ["{ACME_ROOM}"]
approvers = ["{BOB}", "{CUSTOMER_ADMIN}", "SHELPDESK"]
connect_teams = ["{CUSTOMER}"]

[[pbx]]
name = "beta"
url = "{beta.base_url}"
client_id = "{beta.client_id}"
client_secret_file = "{path.parent / "beta.secret"}"
channels = ["{BETA_ROOM}"]
"""
        + (f'rules = "{beta_rules}"\n' if beta_rules is not None else "")
    )
    (path.parent / "beta.secret").write_text(beta.client_secret + "\n")
    return str(path)


async def serving_both(
    make_harness: MakeHarness,
    acme: FakeThreeCX,
    beta: FakeThreeCX,
    tmp_path: Path,
    beta_rules: Path | None = None,
    **settings: Any,
) -> Harness:
    """The bot serving acme (entry 42 blocks 203.0.113.7) and beta (entry 42 blocks 198.51.100.9)."""
    return await serving(make_harness, pbxes_file(tmp_path / "pbxes.toml", acme, beta, beta_rules), acme, **settings)


async def serving(make_harness: MakeHarness, pbxes: str, acme: FakeThreeCX, **settings: Any) -> Harness:
    """The bot serving the PBXes of the file ``pbxes`` (acme's secret in ``ACME_SECRET``), with no ``THREECX_*``
    settings."""
    return await make_harness(
        UNBLOCK_PBXES=pbxes,
        ACME_SECRET=acme.client_secret,
        THREECX_BASE_URL=None,
        THREECX_CLIENT_ID=None,
        THREECX_CLIENT_SECRET=None,
        **settings,
    )


def deleted(fake: FakeThreeCX) -> list[str]:
    return [call.path for call in fake.calls("DELETE")]
