"""Validate request bodies against Discord's OpenAPI request schemas (vendored subset).

``request_schemas.json`` is produced by ``extract_schemas.py`` from
discord/discord-api-spec. The spec is a "preview" and disagrees with what discord.py sends
(and Discord accepts) in a few documented places; ``_patch_spec`` bridges exactly those
(snowflakes sent as JSON integers). Everything else is validated as the spec says.

Spec README caveats that need no bridge for these request bodies: optional *query* args
typed nullable (query strings are not validated), and int-parseable strings typed as ints
(discord.py sends e.g. ``default_member_permissions`` as an int, which the spec wants).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_FILE = Path(__file__).resolve().parent / "request_schemas.json"


def _patch_spec(doc: dict[str, Any]) -> None:
    """Bridge the documented spec-vs-wire differences in the loaded schema, in place.

    ``SnowflakeType`` is a digit *string* in the spec, but Discord also accepts JSON integers
    for snowflakes and discord.py sends ints in many places: new uploads are labelled
    ``attachments[].id = 0`` (the ``files[n]`` index; caveat in the spec README), kept
    attachments use their int id, and ``allowed_mentions.users/roles``,
    ``message_reference.*_id`` and ``sticker_ids`` are ints. So a snowflake may be either.
    Nothing else is relaxed.
    """
    schemas = doc["components"]["schemas"]
    schemas["SnowflakeType"] = {
        "anyOf": [schemas["SnowflakeType"], {"type": "integer", "minimum": 0, "maximum": 2**64 - 1}]
    }


class RequestSchemas:
    """Request-body validators keyed by (HTTP method, spec path template)."""

    def __init__(self, path: Path = SCHEMA_FILE) -> None:
        """Load the vendored schema document and build one validator per route."""
        doc = json.loads(path.read_text(encoding="utf-8"))
        _patch_spec(doc)
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
        return [_describe(error) for error in self._validators[key].iter_errors(body)]


def _leaves(error: ValidationError) -> list[ValidationError]:
    """Return the innermost errors below ``error`` (anyOf/oneOf branches included)."""
    if not error.context:
        return [error]
    return [leaf for child in error.context for leaf in _leaves(child)]


def _describe(error: ValidationError) -> str:
    """Summarise an error by its deepest cause (for unions: the branch that got furthest)."""
    leaves = _leaves(error)
    # For "null or X" unions report the X branch, not "is not of type 'null'".
    leaves = [e for e in leaves if e.schema != {"type": "null"}] or leaves
    leaf = max(leaves, key=lambda e: len(e.absolute_path))
    message = leaf.message if len(leaf.message) <= 200 else leaf.message[:197] + "..."
    return f"{leaf.json_path}: {message} (schema keyword {leaf.validator!r})"


@cache
def default_schemas() -> RequestSchemas:
    """Return the process-wide validator set (loaded once)."""
    return RequestSchemas()
