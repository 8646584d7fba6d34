"""``qiskit.providers.ibmq`` as programs written for the original service see it in the sandbox.

Installed into Qiskit's package tree in the runtime image. Only the program-side runtime API
(``qiskit.providers.ibmq.runtime``) is provided; the provider itself has no meaning inside the
sandbox.
"""
