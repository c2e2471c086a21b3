"""Slack's documented limits for a message, checked the way Slack checks them (it refuses the whole message).

slack_sdk's models check some of these limits and not others (a section field's 2,000 characters, a
message's 50 blocks, the fallback text); here every limit the bot can meet is checked, from
https://api.slack.com/reference/block-kit/blocks, …/block-elements and …/composition-objects, and
chat.postMessage's guidance to keep ``text`` within 4,000 characters.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
#: a Home tab holds more blocks than a message
VIEW_BLOCKS = 100
FALLBACK_TEXT = 4000
#: the longest ``block_id`` and ``action_id``
ID = 255
ANY = ("mrkdwn", "plain_text")
PLAIN = ("plain_text",)
#: a confirmation dialog's text objects: the longest text of each, and its kinds
CONFIRM = {"title": (100, PLAIN), "text": (300, ANY), "confirm": (30, PLAIN), "deny": (30, PLAIN)}
#: the elements of the input blocks the bot uses in a modal
INPUT_ELEMENTS = ("plain_text_input", "static_select", "conversations_select")


def problems(message: dict[str, Any]) -> list[str]:
    """Every way ``message`` (``text`` and ``blocks``) breaks a limit; empty when Slack would take it."""
    text, blocks = message.get("text"), message.get("blocks")
    found = [] if text is None or _short(text, FALLBACK_TEXT) else [f"text of {_size(text)} characters"]
    if blocks is None:
        return found
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return [*found, f"blocks: {_size(blocks)}"]
    block_ids = [block["block_id"] for block in blocks if isinstance(block, dict) and block.get("block_id") is not None]
    if not all(_short(block_id, ID) for block_id in block_ids) or len(set(block_ids)) < len(block_ids):
        found.append(f"block_ids {block_ids!r} too long or repeated")
    return found + [f"block {n}: {p}" for n, block in enumerate(blocks) for p in _block(block)]


def view_problems(view: dict[str, Any]) -> list[str]:
    """Every way a Home tab's view breaks a limit (a message's rules for its blocks, up to 100 of them)."""
    if view.get("type") != "home":
        return ["a view that is not a Home tab"]
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= VIEW_BLOCKS:
        return [f"a Home tab of {_size(blocks)} blocks"]
    return problems({"blocks": blocks[:MAX_BLOCKS]}) + problems({"blocks": blocks[MAX_BLOCKS:]})


def modal_problems(view: dict[str, Any]) -> list[str]:
    """Every way a modal breaks a limit (https://api.slack.com/reference/surfaces/views): its title and buttons,
    its metadata, its input blocks (the other blocks as a message's)."""
    if view.get("type") != "modal":
        return ["a view that is not a modal"]
    found: list[str] = []
    for name in ("title", "submit", "close"):
        if name == "title" or view.get(name) is not None:
            found += _text(view.get(name), 24, PLAIN)
    if not _short(view.get("private_metadata") or "", 3000) or not _short(view.get("callback_id") or "", ID):
        found.append("private_metadata of more than 3,000 characters, or a callback_id of more than 255")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= VIEW_BLOCKS:
        return [*found, "a modal needs 1 to 100 blocks"]
    inputs = [b for b in blocks if isinstance(b, dict) and b.get("type") == "input"]
    if inputs and "submit" not in view:
        found.append("a modal with input blocks needs a submit button")
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id") is not None]
    if len(block_ids) != len(set(block_ids)):
        found.append("a block_id repeated")
    others = [b for b in blocks if b not in inputs]
    return found + [p for b in inputs for p in _input(b)] + (problems({"blocks": others}) if others else [])


def _input(block: dict[str, Any]) -> list[str]:
    """An input block (…/block-kit/blocks#input): its label, its hint, and an element the bot uses."""
    found = _text(block.get("label"), 2000, PLAIN)
    found += _text(block["hint"], 2000, PLAIN) if block.get("hint") is not None else []
    element = block.get("element")
    if not isinstance(element, dict) or element.get("type") not in INPUT_ELEMENTS:
        return [*found, "an input whose element the bot does not use"]
    if not isinstance(element.get("action_id"), str):
        found.append("an input element without an action_id")
    if element["type"] == "static_select":
        return found + _select(element)
    initial, most = element.get("initial_value"), element.get("max_length", 3000)
    if element["type"] == "plain_text_input" and not (isinstance(most, int) and 1 <= most <= 3000):
        found.append("a text input's max_length out of 1 to 3,000")
    elif element["type"] == "plain_text_input" and initial is not None and not _short(initial, most):
        found.append("a text input's initial value longer than its max_length")
    return found


def _short(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _size(value: Any) -> str:
    return str(len(value)) if isinstance(value, str | list) else type(value).__name__


def _text(obj: Any, limit: int, kinds: tuple[str, ...] = ANY) -> list[str]:
    text = obj.get("text") if isinstance(obj, dict) and obj.get("type") in kinds else None
    return (
        [] if isinstance(text, str) and 0 < len(text) <= limit else [f"not a text object of 1 to {limit}: {obj!r:.80}"]
    )


def _block(block: Any) -> list[str]:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "divider":
        return []
    if kind == "section":
        fields = block.get("fields", [])
        if "text" not in block and not fields:
            return ["a section needs text or fields"]
        if not isinstance(fields, list) or len(fields) > 10:
            return ["too many fields"]
        found = _text(block["text"], 3000) if "text" in block else []
        found += [p for field in fields for p in _text(field, 2000)]
        return found + (_element(block["accessory"], []) if "accessory" in block else [])
    elements = block.get("elements") if kind in ("context", "actions") else None
    if not isinstance(elements, list) or not 1 <= len(elements) <= (10 if kind == "context" else 25):
        return [f"a block of type {kind!r} with {_size(elements)} elements"]
    if kind == "context":
        return [p for element in elements for p in _text(element, 3000)]
    action_ids: list[str] = []  # unique within a block
    return [p for element in elements for p in _element(element, action_ids)]


def _element(element: Any, action_ids: list[str]) -> list[str]:
    """The problems of a button or a static select; ``action_ids`` collects those of its block."""
    kind = element.get("type") if isinstance(element, dict) else None
    if kind not in ("button", "static_select"):
        return ["an element that is not a button or a static select"]
    action_id = element.get("action_id")
    found = [] if _short(action_id, ID) and action_id not in action_ids else [f"action_id {action_id!r}"]
    action_ids.append(str(action_id))
    if kind == "static_select":
        return found + _select(element)
    found += _text(element.get("text"), 75, PLAIN)
    if element.get("value") is not None and not _short(element["value"], 2000):
        found.append(f"a button value of {_size(element['value'])} characters")
    if element.get("style") not in (None, "primary", "danger"):
        found.append(f"button style {element.get('style')!r}")
    confirm = element.get("confirm")
    if confirm is None:
        return found
    if not isinstance(confirm, dict):
        return [*found, "a confirm that is not an object"]
    return found + [p for key, (limit, kinds) in CONFIRM.items() for p in _text(confirm.get(key), limit, kinds)]


def _select(element: dict[str, Any]) -> list[str]:
    """A static select: 1 to 100 options of short text and value; its initial option one of them."""
    options = element.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= 100:
        return ["a select needs 1 to 100 options"]
    found = _text(element.get("placeholder"), 150, PLAIN)
    for option in options:
        if not isinstance(option, dict):
            return [*found, "an option that is not an object"]
        found += _text(option.get("text"), 75, PLAIN)
        if not _short(option.get("value"), 150):
            found.append("an option without a short value")
    if element.get("initial_option") not in (None, *options):
        found.append("an initial option that is not one of the options")
    return found
