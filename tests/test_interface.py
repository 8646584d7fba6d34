"""The embedded and the remote service offer one interface, declared once."""

from __future__ import annotations

import inspect

import pytest

from engine.client import RemoteRuntimeService
from engine.interface import RuntimeServiceInterface
from engine.service import RuntimeService

METHODS = sorted(
    name for name, value in vars(RuntimeServiceInterface).items()
    if inspect.isfunction(value) and not name.startswith("_")
)


def test_the_interface_names_every_public_method_of_both() -> None:
    def public(cls: type) -> set[str]:
        return {name for name, value in vars(cls).items()
                if inspect.isfunction(value) and not name.startswith("_")}

    extra_embedded = public(RuntimeService) - set(METHODS)
    extra_remote = public(RemoteRuntimeService) - set(METHODS)
    # What only one side has is about where it runs (the daemon's operator view of its
    # store), not about programs and jobs.
    assert extra_embedded <= {"as_user", "running_jobs", "ping", "job_counts",
                              "jobs_ended_since", "may_see_job"}, extra_embedded
    assert extra_remote <= {"changed_job_record"}, extra_remote


@pytest.mark.parametrize("name", METHODS)
def test_both_services_have_the_declared_signature(name: str) -> None:
    declared = inspect.signature(getattr(RuntimeServiceInterface, name))
    for cls in (RuntimeService, RemoteRuntimeService):
        method = getattr(cls, name)
        assert inspect.signature(method) == declared, f"{cls.__name__}.{name}"


@pytest.mark.parametrize("name", METHODS)
def test_docstrings_are_written_once(name: str) -> None:
    declared = inspect.getdoc(getattr(RuntimeServiceInterface, name))
    assert declared, f"RuntimeServiceInterface.{name} has no docstring"
    for cls in (RuntimeService, RemoteRuntimeService):
        method = getattr(cls, name)
        if method is getattr(RuntimeServiceInterface, name):
            continue  # written once, in the interface, for both
        assert method.__doc__ is None, f"{cls.__name__}.{name} repeats its docstring"
        assert inspect.getdoc(method) == declared
