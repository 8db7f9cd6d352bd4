"""Text in the reader's language: message keys and values, catalogues, formatting."""
