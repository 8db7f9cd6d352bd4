"""Saved defaults: a member's own defaults for /animate (`/animate-settings`) and a server's
defaults and locked maximums (`/animate-admin defaults`, `/animate-admin lock`)."""
