"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse

from gateway.config import Config, default_config_path, load_config


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="gateway.toml (default: $GATEWAY_CONFIG or ./gateway.toml)"
    )


def config_from_args(args: argparse.Namespace, *, required: bool = False) -> Config:
    """Load the configuration named by --config (or the default one); an empty one if none."""
    from gateway.errors import ConfigError

    path = getattr(args, "config", None) or default_config_path()
    if path is None and required:
        raise ConfigError("no configuration: pass --config FILE or set GATEWAY_CONFIG")
    return load_config(path)
