"""Discord bot that animates still images with the Seedance 1.5 Pro image-to-video API."""
