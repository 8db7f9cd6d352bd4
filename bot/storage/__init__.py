"""Persistence: every SQL statement the bot runs, and the database's migrations."""
