"""Text in the reader's language: `Text` and the catalogues (`text`), formatting (`format`), the
few messages of no one feature (`common`), and Discord's side of it, localized command names and
messages rendered for whoever reads them (`translator`). Each feature names its own messages in
its `messages` module; this package uses none of them."""
