"""Extract the request-body schemas the fake Discord validates from Discord's OpenAPI spec.

Usage::

    python tests/fakes/discord/extract_schemas.py [--spec PATH/openapi.json] [--out PATH]

Reads ``openapi.json`` from discord/discord-api-spec (``specs/openapi.json``), keeps the
``application/json`` request-body schema of each route in ``ROUTES`` plus every component
they ``$ref`` (transitively), and writes ``request_schemas.json`` next to this file.
The output is a JSON Schema (Draft 2020-12) document; refs stay ``#/components/...`` so they
resolve inside it. The multipart variants are not kept: they are the JSON schema plus
``files[n]`` parts, and the fake validates the unpacked ``payload_json`` part instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SPEC = HERE.parents[3] / "shared" / "discord-api-spec" / "openapi.json"
DEFAULT_OUT = HERE / "request_schemas.json"
SCHEMA_ID = "urn:discord-api-spec:request-bodies"

#: (method, spec path) of every request body the fake validates.
ROUTES: list[tuple[str, str]] = [
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
    ("POST", "/channels/{channel_id}/messages"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("PUT", "/applications/{application_id}/commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
]


def _collect_refs(node: Any, spec: dict[str, Any], found: dict[str, dict[str, Any]]) -> None:
    """Add every ``#/components/<kind>/<name>`` reachable from ``node`` to ``found``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/components/"):
                raise ValueError(f"unsupported $ref {ref!r}")
            _, _, kind, name = ref.split("/", 3)
            key = f"{kind}/{name}"
            if key not in found:
                target = spec["components"][kind][name]
                found[key] = target
                _collect_refs(target, spec, found)
        for value in node.values():
            _collect_refs(value, spec, found)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, spec, found)


def extract(spec: dict[str, Any], spec_sha256: str) -> dict[str, Any]:
    """Return the vendored schema document for ``ROUTES``."""
    requests: list[dict[str, Any]] = []
    found: dict[str, dict[str, Any]] = {}
    for method, path in ROUTES:
        body = spec["paths"][path][method.lower()]["requestBody"]
        schema = body["content"]["application/json"]["schema"]
        requests.append(
            {
                "method": method,
                "path": path,
                "required": body.get("required", False),
                "schema": schema,
            }
        )
        _collect_refs(schema, spec, found)
    components: dict[str, dict[str, Any]] = {}
    for key in sorted(found):
        kind, name = key.split("/", 1)
        components.setdefault(kind, {})[name] = found[key]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "x-source": {
            "repository": "discord/discord-api-spec",
            "file": "specs/openapi.json",
            "openapi": spec["openapi"],
            "info_version": spec["info"]["version"],
            "sha256": spec_sha256,
            "generator": "tests/fakes/discord/extract_schemas.py",
        },
        "requests": requests,
        "components": components,
    }


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="path to openapi.json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON file")
    args = parser.parse_args()
    raw = args.spec.read_bytes()
    doc = extract(json.loads(raw), hashlib.sha256(raw).hexdigest())
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    n_components = sum(len(v) for v in doc["components"].values())
    print(f"wrote {args.out} ({len(doc['requests'])} routes, {n_components} components)")


if __name__ == "__main__":
    main()
