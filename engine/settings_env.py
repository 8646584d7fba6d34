"""How the settings are spelled in the environment, readable without pydantic-settings.

:class:`engine.settings.Settings` reads ``ENGINE_<FIELD>`` variables (in any case, as
pydantic-settings matches them), then the config file named by ``$ENGINE_CONFIG``, then
its defaults. Importing pydantic-settings costs a CLI command about 0.2 s of start-up, so a
command that needs only a field or two (where the store is) reads them here, with the same
rules; a test holds the two readings equal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: The prefix of every setting's environment variable.
ENV_PREFIX = "ENGINE_"
#: The variable naming a config file whose values lie below the environment's.
CONFIG_ENV = "ENGINE_CONFIG"


def default_home() -> Path:
    """The state folder when no setting names one."""
    return Path.home() / ".local" / "share" / "program-engine"


def environment_value(field: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The environment's value of the setting ``field``, or ``None`` when it gives none.

    Names match in any case; of several spellings the last one in the environment wins,
    as with pydantic-settings.
    """
    wanted = (ENV_PREFIX + field).lower()
    found = None
    for key, value in (os.environ if environ is None else environ).items():
        if key.lower() == wanted:
            found = value
    return found


def names_config_file(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a config file supplies settings (then only ``Settings`` reads them right)."""
    return bool((os.environ if environ is None else environ).get(CONFIG_ENV, "").strip())
