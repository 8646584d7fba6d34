"""Which optional part of the distribution (an "extra") provides which module.

``pip install program-engine`` installs only what the static review needs (``scan``, the
pre-commit hook); the rest comes with extras (see ``pyproject.toml``): ``client`` for the
remote client, ``runtime`` for running programs and the store, ``server`` for the daemon.
A command that needs a missing extra says which one to install, instead of a traceback.
"""

from __future__ import annotations

#: The extra that installs each top-level module a command may need.
EXTRA_OF_MODULE = {
    "httpx": "client",
    "qiskit": "client",
    "numpy": "client",
    "scipy": "client",
    "jsonschema": "client",
    "re2": "client",
    "qiskit_aer": "runtime",
    "docker": "runtime",
    "psutil": "runtime",
    "sqlalchemy": "runtime",
    "alembic": "runtime",
    "fastapi": "server",
    "starlette": "server",
    "uvicorn": "server",
    "multipart": "server",
    "python_multipart": "server",
    "prometheus_client": "server",
    "swagger_ui_bundle": "server",
    "psycopg": "postgres",
    "ray": "ray",
}


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """A one-line explanation naming the extra to install, or ``None`` when ``exc`` is not
    about a module an extra provides."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    return (f"this needs the '{extra}' extra, which is not installed (no module named "
            f"{module!r}): pip install 'program-engine[{extra}]'")
