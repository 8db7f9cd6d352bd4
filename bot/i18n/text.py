"""Localized text: messages are built as `Text` (a key and its values) and rendered in the
reader's language at the edge, from the catalogues in `bot/i18n/locales/<language>.toml`.

A template is a `str.format` string. A template may instead be a table of plural forms
(`one`, `other`), picked by the value named `count`. A value that is itself a `Text` is
rendered in the same language, so messages compose. `{cmd[usage]}` in any template is a
command's name as the reader's client lists it (`command.usage.name`: `utilisation` in French),
and `{cmd[usage.option.forget]}` any other `command.` entry, so no message names a command in
a language other than its own.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Final

#: The catalogue every other one is checked against, and the fallback for missing keys.
DEFAULT_LANGUAGE: Final = "en"
LANGUAGES: Final = ("en", "fr", "de", "es")

Template = str | Mapping[str, str]


class Text:
    """A message to render later, in whichever language its reader uses."""

    __slots__ = ("args", "key")

    def __init__(self, key: str, /, **args: object) -> None:
        self.key = key
        self.args = args

    def render(self, locale: str | None = None) -> str:
        """The message in `locale`'s language (a Discord locale such as `fr` or `es-ES`)."""
        return catalogue().render(language(locale), self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (self.key, self.args) == (other.key, other.args)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Text({self.key!r}, {self.args!r})"


class Join(Text):
    """Several messages (or plain strings) shown one after another, separated by `sep`."""

    __slots__ = ("parts", "sep")

    def __init__(self, parts: Iterable[Text | str], sep: str = "\n") -> None:
        super().__init__("")
        self.parts = tuple(parts)
        self.sep = sep

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Join) and (self.parts, self.sep) == (other.parts, other.sep)

    def __hash__(self) -> int:
        return hash(self.parts)

    def __repr__(self) -> str:
        return f"Join({self.parts!r}, {self.sep!r})"


def language(locale: str | None) -> str:
    """The catalogue language for a Discord locale: `es-419` → `es`, unknown → English."""
    if not locale:
        return DEFAULT_LANGUAGE
    base = locale.split("-", 1)[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


class Catalogue:
    """Every template of every language, loaded once."""

    def __init__(self, templates: Mapping[str, Mapping[str, Template]]) -> None:
        self.templates = templates

    @classmethod
    def load(cls) -> Catalogue:
        """Read `bot/i18n/locales/*.toml`, flattening `[section]` tables into `section.key`."""
        folder = resources.files("bot.i18n") / "locales"
        templates = {}
        for lang in LANGUAGES:
            data = tomllib.loads((folder / f"{lang}.toml").read_text(encoding="utf-8"))
            templates[lang] = _flatten(data)
        return cls(templates)

    def template(self, lang: str, key: str) -> Template:
        """The template of `key` in `lang`, else in English. KeyError if it exists nowhere."""
        found = self.templates.get(lang, {}).get(key)
        return found if found is not None else self.templates[DEFAULT_LANGUAGE][key]

    def get(self, lang: str, key: str) -> str | None:
        """A plain template of `lang` only (for Discord's own localization fields)."""
        found = self.templates.get(lang, {}).get(key)
        return found if isinstance(found, str) else None

    def render(self, lang: str, text: Text) -> str:
        """Fill the template of `text` in `lang`."""
        if isinstance(text, Join):
            return text.sep.join(
                p if isinstance(p, str) else self.render(lang, p) for p in text.parts
            )
        template = self.template(lang, text.key)
        values = {
            name: self.render(lang, value) if isinstance(value, Text) else value
            for name, value in text.args.items()
        }
        if not isinstance(template, str):
            template = template[plural_form(lang, _count(text))]
        return self.fill(lang, template, values)

    def fill(self, lang: str, template: str, values: Mapping[str, object]) -> str:
        """`template` with `values` and the `{cmd[...]}` command names of `lang`."""
        return template.format_map({**values, "cmd": _CommandNames(self, lang)})


class _CommandNames:
    """What `{cmd[ref]}` reads: `command.<ref>.name`, or `command.<ref>` when `ref` has a dot."""

    __slots__ = ("_catalogue", "_lang")

    def __init__(self, catalogue: Catalogue, lang: str) -> None:
        self._catalogue = catalogue
        self._lang = lang

    def __getitem__(self, ref: str) -> str:
        key = f"command.{ref}" if "." in ref else f"command.{ref}.name"
        template = self._catalogue.template(self._lang, key)
        if not isinstance(template, str):
            raise KeyError(ref)
        return template


def plural_form(lang: str, count: int) -> str:
    """CLDR's cardinal category for integers, for the languages we ship."""
    if lang == "fr":
        return "one" if count in (0, 1) else "other"
    return "one" if count == 1 else "other"


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped with the bot."""
    return Catalogue.load()


def _count(text: Text) -> int:
    count = text.args.get("count")
    if not isinstance(count, int):
        raise ValueError(f"plural message {text.key!r} needs an integer `count`")
    return count


def _flatten(data: Mapping[str, object], prefix: str = "") -> dict[str, Template]:
    flat: dict[str, Template] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if isinstance(value, str):
            flat[key] = value
        elif isinstance(value, dict) and set(value) == {"one", "other"}:
            flat[key] = {form: str(v) for form, v in value.items()}
        elif isinstance(value, dict):
            flat.update(_flatten(value, f"{key}."))
        else:
            raise ValueError(f"catalogue entry {key!r} is neither text nor a table")
    return flat
