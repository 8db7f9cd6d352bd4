"""Clips made from a delivered one by its result buttons: Regenerate, Edit prompt, Continue,
Loop. `recipes` says what each makes from its parent; `service` checks and starts it."""
