"""minibase: a self-hosted backend for mini programs."""

__version__ = "0.1.0"
