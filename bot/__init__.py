"""Discord bot that animates still images with hosted image-to-video models (vibedream)."""
