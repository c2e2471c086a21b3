"""Slack's ids, as the bot recognises them: users (``U…``, ``W…``), user groups (``S…``) and channels; and the name
people type for a PBX."""

from __future__ import annotations

import re

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
#: a PBX's name, as people type it (``/unblock acme 42``): a lowercase letter, then lowercase letters, digits and
#: ``-``, at most 24 characters
PBX_NAME = re.compile(r"[a-z][a-z0-9-]{0,23}")
