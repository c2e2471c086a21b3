"""Slack's documented limits for a message, checked the way Slack checks them (it refuses the whole message).

slack_sdk's models check some of these limits and not others (a section field's 2,000 characters, a
message's 50 blocks, the fallback text); here every limit the bot can meet is checked, from
https://api.slack.com/reference/block-kit/blocks, …/block-elements and …/composition-objects, and
chat.postMessage's guidance to keep ``text`` within 4,000 characters.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
FALLBACK_TEXT = 4000
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
CONTEXT_ELEMENTS = 10
TEXT_OBJECT = 3000
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
BLOCK_ID = 255
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
CONFIRM_BUTTON = 30
BUTTON_STYLES = ("primary", "danger")
OPTIONS = 100
OPTION_TEXT = 75
OPTION_VALUE = 150
PLACEHOLDER = 150


def problems(message: dict[str, Any]) -> list[str]:
    """Every way ``message`` (``text`` and ``blocks``) breaks a limit; empty when Slack would take it."""
    found: list[str] = []
    text, blocks = message.get("text"), message.get("blocks")
    if text is not None and (not isinstance(text, str) or len(text) > FALLBACK_TEXT):
        found.append(f"text of {len(text) if isinstance(text, str) else type(text).__name__} characters")
    if blocks is None:
        return found
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return [*found, f"blocks: {len(blocks) if isinstance(blocks, list) else type(blocks).__name__}"]
    block_ids: set[str] = set()
    for n, block in enumerate(blocks):
        where = f"block {n}"
        if not isinstance(block, dict):
            found.append(f"{where} is not an object")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > BLOCK_ID or block_id in block_ids:
                found.append(f"{where}: block_id {block_id!r} too long or repeated")
            block_ids.add(str(block_id))
        found += [f"{where}: {p}" for p in _block(block, set())]
    return found


#: a Home tab holds more blocks than a message
VIEW_BLOCKS = 100


def view_problems(view: dict[str, Any]) -> list[str]:
    """Every way a Home tab's view breaks a limit (a message's rules for its blocks, up to 100 of them)."""
    if view.get("type") != "home":
        return ["a view that is not a Home tab"]
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= VIEW_BLOCKS:
        return [f"a Home tab of {len(blocks) if isinstance(blocks, list) else '?'} blocks"]
    return problems({"blocks": blocks[:MAX_BLOCKS]}) + problems({"blocks": blocks[MAX_BLOCKS:]})


def _block(block: dict[str, Any], action_ids: set[str]) -> list[str]:
    """The problems of one block; ``action_ids`` collects its elements' (unique within a block)."""
    kind = block.get("type")
    if kind == "section":
        found = []
        if "text" not in block and "fields" not in block:
            found.append("a section needs text or fields")
        if "text" in block:
            found += _text(block["text"], SECTION_TEXT, "text")
        fields = block.get("fields", [])
        if not isinstance(fields, list) or len(fields) > FIELDS:
            found.append("too many fields")
        else:
            for field in fields:
                found += _text(field, FIELD_TEXT, "field")
        if "accessory" in block:
            found += _element(block["accessory"], action_ids)
        return found
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ELEMENTS:
            return ["a context needs 1 to 10 elements"]
        return [p for element in elements for p in _text(element, TEXT_OBJECT, "context element")]
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= ACTIONS_ELEMENTS:
            return ["an actions block needs 1 to 25 elements"]
        return [p for element in elements for p in _element(element, action_ids)]
    if kind == "divider":
        return []
    return [f"a block of type {kind!r} the bot does not use"]


def _text(obj: Any, limit: int, what: str, kinds: tuple[str, ...] = ("mrkdwn", "plain_text")) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds or not isinstance(obj.get("text"), str):
        return [f"{what} is not a text object"]
    text = obj["text"]
    if not text:
        return [f"{what} is empty"]
    return [f"{what} of {len(text)} characters (at most {limit})"] if len(text) > limit else []


def _select(element: dict[str, Any], action_ids: set[str]) -> list[str]:
    """A static select: 1 to 100 options of short text and value; its initial option one of them."""
    options = element.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= OPTIONS:
        return ["a select needs 1 to 100 options"]
    found = _text(element.get("placeholder"), PLACEHOLDER, "placeholder", ("plain_text",))
    for option in options:
        if not isinstance(option, dict):
            return [*found, "an option that is not an object"]
        found += _text(option.get("text"), OPTION_TEXT, "option text", ("plain_text",))
        value = option.get("value")
        if not isinstance(value, str) or len(value) > OPTION_VALUE:
            found.append("an option without a short value")
    initial = element.get("initial_option")
    if initial is not None and initial not in options:
        found.append("an initial option that is not one of the options")
    action_id = element.get("action_id")
    if not isinstance(action_id, str) or len(action_id) > ACTION_ID or action_id in action_ids:
        found.append("a select without a usable, unique action_id")
    action_ids.add(str(action_id))
    return found


def _element(element: Any, action_ids: set[str]) -> list[str]:
    if isinstance(element, dict) and element.get("type") == "static_select":
        return _select(element, action_ids)
    if not isinstance(element, dict) or element.get("type") != "button":
        return ["an element that is not a button or a static select"]
    found = _text(element.get("text"), BUTTON_TEXT, "button text", ("plain_text",))
    value = element.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > BUTTON_VALUE):
        found.append(f"a button value of {len(value) if isinstance(value, str) else '?'} characters")
    action_id = element.get("action_id")
    if not isinstance(action_id, str) or len(action_id) > ACTION_ID:
        found.append("a button without a usable action_id")
    elif action_id in action_ids:
        found.append(f"action_id {action_id!r} repeated in a block")
    action_ids.add(str(action_id))
    if element.get("style") not in (None, *BUTTON_STYLES):
        found.append(f"button style {element.get('style')!r}")
    confirm = element.get("confirm")
    if confirm is not None:
        if not isinstance(confirm, dict):
            return [*found, "a confirm that is not an object"]
        found += _text(confirm.get("title"), CONFIRM_TITLE, "confirm title", ("plain_text",))
        found += _text(confirm.get("text"), CONFIRM_TEXT, "confirm text")
        found += _text(confirm.get("confirm"), CONFIRM_BUTTON, "confirm button", ("plain_text",))
        found += _text(confirm.get("deny"), CONFIRM_BUTTON, "deny button", ("plain_text",))
    return found
