# A program's image: the runtime image plus the program's own files under /program, owned by
# root and read-only for the sandbox user. Tagged by the content hash of the files and the
# runtime image id, so identical sources share one image.
ARG RUNTIME_IMAGE
FROM ${RUNTIME_IMAGE}
COPY program/ /program/
