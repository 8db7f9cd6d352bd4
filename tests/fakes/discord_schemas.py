"""Validate request bodies against Discord's OpenAPI request schemas (vendored subset).

``discord_request_schemas.json`` is produced by ``extract_discord_schemas.py`` from
discord/discord-api-spec. The spec is a "preview" and disagrees with what discord.py sends
(and Discord accepts) in a few documented places; ``coerce_for_spec`` bridges exactly those,
on a copy of the body, before validation. Everything else is validated as the spec says.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_FILE = Path(__file__).resolve().parent / "discord_request_schemas.json"


def _coerce_attachment_ids(node: Any) -> None:
    """Turn integer ``attachments[].id`` values into strings, recursively, in place.

    Spec caveat (spec README): discord.py labels new uploads ``{"id": 0}`` (the ``files[n]``
    index) and kept attachments with their int snowflake; ``MessageAttachmentRequest.id`` is
    a SnowflakeType *string*. Discord accepts both.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "attachments" and isinstance(value, list):
                for att in value:
                    if isinstance(att, dict) and isinstance(att.get("id"), int):
                        att["id"] = str(att["id"])
            else:
                _coerce_attachment_ids(value)
    elif isinstance(node, list):
        for value in node:
            _coerce_attachment_ids(value)


def coerce_for_spec(body: Any) -> Any:
    """Return a copy of ``body`` with the known dpy-vs-spec differences bridged."""
    body = copy.deepcopy(body)
    _coerce_attachment_ids(body)
    return body


class RequestSchemas:
    """Request-body validators keyed by (HTTP method, spec path template)."""

    def __init__(self, path: Path = SCHEMA_FILE) -> None:
        """Load the vendored schema document and build one validator per route."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        registry: Registry = Registry().with_resource(doc["$id"], resource)
        self.source: dict[str, Any] = doc["x-source"]
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._required: dict[tuple[str, str], bool] = {}
        for index, entry in enumerate(doc["requests"]):
            key = (entry["method"], entry["path"])
            root = {"$ref": f"{doc['$id']}#/requests/{index}/schema"}
            self._validators[key] = Draft202012Validator(root, registry=registry)
            self._required[key] = entry["required"]

    def routes(self) -> list[tuple[str, str]]:
        """Return the (method, spec path) pairs that have a schema."""
        return list(self._validators)

    def validate(self, method: str, spec_path: str, body: Any) -> list[str]:
        """Return human-readable violations of ``body`` (empty when valid)."""
        key = (method, spec_path)
        if body is None:
            return ["request body missing"] if self._required[key] else []
        return [
            _describe(error) for error in self._validators[key].iter_errors(coerce_for_spec(body))
        ]


def _leaves(error: ValidationError) -> list[ValidationError]:
    """Return the innermost errors below ``error`` (anyOf/oneOf branches included)."""
    if not error.context:
        return [error]
    return [leaf for child in error.context for leaf in _leaves(child)]


def _describe(error: ValidationError) -> str:
    """Summarise an error by its deepest cause (for unions: the branch that got furthest)."""
    leaf = max(_leaves(error), key=lambda e: len(e.absolute_path))
    message = leaf.message if len(leaf.message) <= 200 else leaf.message[:197] + "..."
    return f"{leaf.json_path}: {message} (schema keyword {leaf.validator!r})"


@cache
def default_schemas() -> RequestSchemas:
    """Return the process-wide validator set (loaded once)."""
    return RequestSchemas()
