"""Talking to the platforms beyond login: access tokens (and, later, messages, checks, codes)."""
