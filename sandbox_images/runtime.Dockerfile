# The sandbox runtime image: Python 3.11 with a venv at /opt/venv holding exactly the host's
# versions of qiskit, qiskit-aer, numpy, scipy, pydantic and PyYAML (and their dependencies),
# the sandbox-side engine modules under /opt/engine, and the compatibility modules that let
# programs written for the original service import UserMessenger and ProgramBackend from
# qiskit_ibm_runtime.program or qiskit.providers.ibmq.runtime.
#
# numpy's and scipy's test suites (about 50 MB) are left out. Bytecode is compiled in advance
# (unchecked-hash pycs, so copying does not invalidate them): the root filesystem is read-only
# at run time and PYTHONDONTWRITEBYTECODE is set, and imports stay fast.
#
# Built by engine.sandbox.images with the classic builder and network_mode "none": everything
# comes from the build context (wheels/, engine-root/, compat/). BASE_IMAGE is python:3.11-slim
# or the Debian bookworm rootfs made by bootstrap-rootfs.sh.
ARG BASE_IMAGE

FROM ${BASE_IMAGE} AS build
LABEL org.program-engine.kind=build-stage
COPY wheels/ /wheels/
RUN set -eu; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/python -m pip install --no-index --find-links /wheels --no-cache-dir \
        --no-compile --disable-pip-version-check --quiet --requirement /wheels/requirements.txt; \
    /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools; \
    site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
    find "$site/numpy" "$site/scipy" -depth -type d -name tests -exec rm -rf {} +; \
    /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash "$site" \
        >/dev/null
COPY compat/ /compat/
COPY engine-root/ /opt/engine/
RUN set -eu; \
    site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))'); \
    cp -r /compat/qiskit_ibm_runtime "$site/qiskit_ibm_runtime"; \
    cp -r /compat/ibmq "$site/qiskit/providers/ibmq"; \
    /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash \
        "$site/qiskit_ibm_runtime" "$site/qiskit/providers/ibmq" /opt/engine

FROM ${BASE_IMAGE}
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin sandbox
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/engine /opt/engine
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/opt/engine \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    LANG=C.UTF-8
WORKDIR /tmp
USER sandbox
# -P: no current directory on sys.path; the runner appends /program after the standard library.
ENTRYPOINT ["python", "-P", "-m", "engine.sandbox.runner"]
CMD []
