"""Text in the reader's language: `Text` and the catalogues (`text`), formatting (`format`) and
the few messages of no one feature (`common`). Each feature names its own messages in its
`messages` module; this package uses none of them."""
