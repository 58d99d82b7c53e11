"""poleax version, kept apart so `poleax --version` needs no heavy import."""

__version__ = "0.1.0"
