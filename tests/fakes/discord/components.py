"""Message components and modals: walking, numbering, the buttons of a message, and the
MODAL_SUBMIT components a Discord client would send back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

from tests.fakes.discord.constants import (
    ACTION_ROW,
    BUTTON,
    FILE_UPLOAD,
    LABEL,
    SELECTS,
    TEXT_INPUT,
)


def iter_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield every component, depth first (rows, containers, accessories, label children)."""
    for comp in components:
        yield comp
        yield from iter_components(comp.get("components") or [])
        for key in ("accessory", "component"):  # section accessory, label child
            if isinstance(comp.get(key), dict):
                yield from iter_components([comp[key]])


def numbered_components(components: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Copy of ``components`` where each one without an ``id`` gets a unique one, like Discord."""
    result = copy.deepcopy(list(components or []))
    used = {c["id"] for c in iter_components(result) if isinstance(c.get("id"), int)}
    next_id = 1
    for comp in iter_components(result):
        if comp.get("id") is None:
            while next_id in used:
                next_id += 1
            comp["id"] = next_id
            used.add(next_id)
    return result


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button on a message (each a dict with ``custom_id``/``label``/``style``...)."""
    return [c for c in iter_components(message.get("components") or []) if c["type"] == BUTTON]


ModalValue = str | list[str] | list[dict[str, Any]]


def modal_submit_components(
    components: Iterable[dict[str, Any]], values: dict[str, ModalValue]
) -> list[dict[str, Any]]:
    """Mirror a modal's (numbered) components as MODAL_SUBMIT ``data.components``.

    Action rows come back as rows of ``{type, id, custom_id, value}``, labels as
    ``{type: 18, id, component: {...}}`` and text displays as ``{type: 10, id}`` (docs
    components/reference.mdx). A text input the user leaves alone submits its prefilled
    ``value`` (or ""); what the Discord client would refuse to submit raises ``ValueError``:
    a missing required text, a length outside min/max, a value for no input.
    """
    unused = set(values)

    def field(comp: dict[str, Any]) -> dict[str, Any]:
        custom_id = comp["custom_id"]
        unused.discard(custom_id)
        out = {"type": comp["type"], "id": comp["id"], "custom_id": custom_id}
        given = values.get(custom_id)
        if comp["type"] == TEXT_INPUT:
            out["value"] = _text_input_value(comp, given)
        elif comp["type"] in SELECTS or comp["type"] == FILE_UPLOAD:
            if given is None or isinstance(given, str):
                raise ValueError(f"{custom_id!r} takes a list of values")
            out["values"] = [v["id"] if isinstance(v, dict) else str(v) for v in given]
        else:
            raise ValueError(f"the fake cannot submit component type {comp['type']}")
        return out

    def mirror(comp: dict[str, Any]) -> dict[str, Any]:
        if comp["type"] == ACTION_ROW:
            rows = [field(c) for c in comp["components"]]
            return {"type": ACTION_ROW, "id": comp["id"], "components": rows}
        if comp["type"] == LABEL:
            return {"type": LABEL, "id": comp["id"], "component": field(comp["component"])}
        return {"type": comp["type"], "id": comp["id"]}

    mirrored = [mirror(c) for c in components]
    if unused:
        raise ValueError(f"the modal has no input {sorted(unused)}")
    return mirrored


def _text_input_value(comp: dict[str, Any], given: ModalValue | None) -> str:
    """The text a user submits in a text input, checked as the Discord client checks it."""
    text = (comp.get("value") or "") if given is None else given
    if not isinstance(text, str):
        raise ValueError(f"{comp['custom_id']!r} takes a string")
    required = comp.get("required")
    if text == "" and (required is None or required):
        raise ValueError(f"{comp['custom_id']!r} is required")
    low, high = comp.get("min_length") or 0, comp.get("max_length") or 4000
    if text and not low <= len(text) <= high:
        raise ValueError(f"{comp['custom_id']!r} must be {low}-{high} characters")
    return text


def modal_attachments(values: dict[str, ModalValue]) -> list[dict[str, Any]]:
    """Attachment objects given as file-upload values (they go to ``data.resolved``)."""
    lists = [given for given in values.values() if isinstance(given, list)]
    return [v for given in lists for v in given if isinstance(v, dict)]
