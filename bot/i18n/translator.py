"""Discord's side of localization: command names and descriptions in every catalogue
language, and messages rendered in the language of whoever reads them."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n.text import DEFAULT_LANGUAGE, Text, catalogue, language


class CatalogueTranslator(app_commands.Translator):
    """Fills in commands' `name_localizations`/`description_localizations` from the catalogue
    when the tree is synced; Discord then shows each user their own language."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """The catalogue's wording of `string` in `locale`, or None to keep the English."""
        key = string.extras.get("key")
        lang = language(locale.value)
        if key is None or lang == DEFAULT_LANGUAGE:
            return None
        template = catalogue().get(lang, key)
        return (
            None if template is None else catalogue().fill(lang, template, string.extras["values"])
        )


def command_text(key: str, **values: object) -> app_commands.locale_str:
    """A command's name, description or choice: English from the catalogue (filled with
    `values`), translated when the tree is synced."""
    english = catalogue().get(DEFAULT_LANGUAGE, key)
    if english is None:
        raise KeyError(f"the catalogue has no English text for {key!r}")
    filled = catalogue().fill(DEFAULT_LANGUAGE, english, values)
    return app_commands.locale_str(filled, key=key, values=values)


def say(interaction: discord.Interaction, text: Text) -> str:
    """`text` in the language of the user who sent `interaction`."""
    return text.render(interaction.locale.value)


def say_to_server(interaction: discord.Interaction, text: Text) -> str:
    """`text` in the server's language (for what everyone in a channel reads)."""
    locale = interaction.guild_locale or interaction.locale
    return text.render(locale.value)
