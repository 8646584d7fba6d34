"""Host-side backends that serve ``backend.run()`` for sandboxed programs.

- :mod:`~engine.backends.policy`: the policy (``policies/backends.yaml``);
- :mod:`~engine.backends.registry`: names, descriptions, requirements, a job's usage;
- :mod:`~engine.backends.admission`: what a call may ask, on the host and in the worker;
- :mod:`~engine.backends.simulations`: one job's worker process, queue and budgets;
- :mod:`~engine.backends.worker`: the worker process itself.
"""

from engine.backends.admission import CallPlan, estimate_memory
from engine.backends.policy import BackendPolicy, load_backend_policy
from engine.backends.registry import BackendRegistry, JobUsage
from engine.backends.simulations import JobEnded, JobSimulations

__all__ = [
    "BackendPolicy",
    "BackendRegistry",
    "CallPlan",
    "JobEnded",
    "JobSimulations",
    "JobUsage",
    "estimate_memory",
    "load_backend_policy",
]
