"""Exceptions whose message is fit to show a user as one line (never a traceback)."""


class GatewayError(Exception):
    """An error with a human-readable message; the CLI prints it and exits with status 2."""


class ConfigError(GatewayError):
    """The configuration file or environment is invalid."""


class KeyLoadError(GatewayError):
    """A signing key could not be loaded. The message never contains key material or passwords."""


class SigningError(GatewayError):
    """A document could not be signed."""
