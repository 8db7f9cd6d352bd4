"""Running the bot as a service: start-up checks and their one-line failures, `python -m bot
check`, the health and metrics server, and logs for people or machines.

Discord-free like every feature: what it needs from Discord it asks over plain HTTP
(`discord_rest`), and the composition root hands it the gateway's state as a callable.
"""
