"""Configuration adapter: fedcore's YAML file (waldur-site-agent's format) to :mod:`fedcore.config` values.

``load_config(path)`` and ``parse_config(text)`` return a :class:`fedcore.config.FedcoreConfig` or raise
:class:`fedcore.errors.ConfigError` listing every problem with its path; ``dump_config`` goes the other
way; ``notices(config)`` lists the keys that are set but that fedcore does not act on.
docs/configuration.md is the operator's reference for the keys.
"""

from adapters.config.loader import dump_config, load_config, parse_config
from adapters.config.notices import notices

__all__ = ["dump_config", "load_config", "notices", "parse_config"]
