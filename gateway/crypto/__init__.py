"""Cryptographic algorithms the standard libraries do not provide (`gateway.crypto.ua`: Ukrainian)."""
