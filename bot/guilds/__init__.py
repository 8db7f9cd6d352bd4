"""Server controls: the rules and limits admins set, and what they change and read."""
