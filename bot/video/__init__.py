"""The video models the API serves, and the client that talks to it."""
