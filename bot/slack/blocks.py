"""Block Kit pieces that keep Slack's limits whatever text 3CX or a person supplies.

Slack refuses a whole message (``invalid_blocks``) when one piece is too long, and
slack_sdk's models do not check every limit, so each piece is cut to size here:
text from elsewhere is shortened *before* it is escaped (never inside an escape),
and a finished mrkdwn text is cut only between Slack's ``<…>`` tokens, never
inside one, always with an ellipsis.
"""

from __future__ import annotations

from html import escape as html_escape
from itertools import accumulate, takewhile
from typing import Any

Block = dict[str, Any]
Blocks = list[Block]

#: Slack's limits (https://api.slack.com/reference/block-kit); the limits of each element are in its builder
SECTION_TEXT = 3000
MAX_BLOCKS = 50
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Text from elsewhere (3CX, people) shown as text: no mentions, links or formatting injected."""
    return html_escape(text, quote=False)


def fit(raw: str, limit: int) -> str:
    """``raw`` escaped, in at most ``limit`` characters: shortened before escaping, with an ellipsis."""
    text = escape(raw)
    if len(text) <= limit:
        return text
    # as many characters as fit once escaped (an escape is never cut)
    sizes = accumulate(len(escape(char)) for char in raw)
    kept = sum(1 for _ in takewhile(lambda size: size <= limit - len(ELLIPSIS), sizes))
    return escape(raw[:kept]) + ELLIPSIS


def clip(raw: str, limit: int) -> str:
    """Plain text (not escaped) in at most ``limit`` characters, with an ellipsis."""
    return raw if len(raw) <= limit else raw[: limit - 1] + ELLIPSIS


def cut(text: str, limit: int) -> str:
    """Finished mrkdwn in at most ``limit`` characters, cut only outside ``<…>`` tokens and ``&…;`` escapes."""
    if len(text) <= limit:
        return text
    end = limit - len(ELLIPSIS)
    opened = text.rfind("<", 0, end)
    if opened > text.rfind(">", 0, end):
        end = opened
    amp = text.rfind("&", 0, end)
    if amp > text.rfind(";", 0, end):
        end = amp
    if text.count("`", 0, end) % 2:  # not inside a code span either
        end = text.rfind("`", 0, end)
    return text[:end] + ELLIPSIS


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, limit)}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit)}


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def fields(pairs: list[tuple[str, str]]) -> Block:
    """A section of at most 10 ``*name*`` / value pairs; values are finished mrkdwn."""
    return {"type": "section", "fields": [mrkdwn(f"*{name}*\n{value}", 2000) for name, value in pairs[:10]]}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def button(text: str, action_id: str, value: str, style: str | None = None, confirm: Block | None = None) -> Block:
    block: Block = {"type": "button", "text": plain(text, 75), "action_id": action_id, "value": value}
    if style:
        block["style"] = style
    if confirm is not None:
        block["confirm"] = confirm
    return block


def select(action_id: str, options: list[tuple[str, str]], initial: str, placeholder: str) -> Block:
    """A static select of (text, value) ``options``, with the one whose value is ``initial`` chosen."""
    shown = [{"text": plain(text, 75), "value": value} for text, value in options]
    chosen = next((option for option in shown if option["value"] == initial), shown[0])
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder, 150),
        "options": shown,
        "initial_option": chosen,
    }


def confirm(title: str, text: str, yes: str, no: str) -> Block:
    return {
        "title": plain(title, 100),
        "text": plain(text, 300),
        "confirm": plain(yes, 30),
        "deny": plain(no, 30),
    }


def actions(block_id: str, *elements: Block) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def fallback(text: str) -> str:
    """A message's plain ``text``, what notifications show, from finished mrkdwn (text from elsewhere in it already
    escaped, by ``fit`` or ``escape``, as in the blocks): without bold and code marks, short, never cut inside an
    escape or a ``<…>`` token."""
    return cut(text.replace("*", "").replace("`", ""), 4000)  # Slack recommends 4,000 characters at most


def sections(lines: list[str], heading: str | None = None) -> Blocks:
    """``lines`` in as few sections as Slack allows (each under its text limit), at most ``MAX_BLOCKS``."""
    texts: list[str] = []
    for line in (cut(line, SECTION_TEXT) for line in lines):
        if texts and len(texts[-1]) + 1 + len(line) <= SECTION_TEXT:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return [section(text) for text in ([heading] if heading else []) + texts][:MAX_BLOCKS]
