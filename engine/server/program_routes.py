"""``/v1/programs``: upload, list, read, update, share and delete programs.

Each route is the embedded service's method of the same name, acting as the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from engine.documents import ProgramDocument
from engine.errors import ProgramError, ProgramRejected
from engine.server.auth import Service
from engine.server.problems import openapi_responses
from engine.server.schemas import ProgramList, ProgramPatch, VisibilityChange, program_json
from engine.server.uploads import metadata_bytes, number_field, spec_field, staged_program

router = APIRouter(
    prefix="/v1/programs",
    tags=["programs"],
    responses=openapi_responses(401, 404, 422, 429),
)

FileField = Annotated[
    UploadFile | None,
    File(description="The program: one NAME.py file, or a folder as .tar.gz, .tgz or .zip."),
]
SourceField = Annotated[
    UploadFile | None,
    File(description="Instead of file: the program's source text (the entry module's name "
         "then comes from the metadata's name)."),
]
MetadataField = Annotated[
    str | None,
    Form(description="The metadata as JSON text (default: NAME.json inside the archive)."),
]


@router.post("", status_code=201, response_model=ProgramDocument,
             responses=openapi_responses(413, 503))
def create_program(request: Request, response: Response, service: Service,
                   file: FileField = None, source: SourceField = None,
                   metadata: MetadataField = None,
                   new: Annotated[bool, Form(description="Upload even if the caller has a "
                                             "program of this name (409 otherwise).")] = False,
                   ) -> dict[str, object]:
    """Upload a program; it is scanned, and refused with every finding if it is rejected."""
    if (file is None) == (source is None):
        raise ProgramError("give the program as exactly one of the parts 'file' and 'source'",
                           "<upload>")
    with _staged(request, file, source) as data:
        try:
            program_id = service.upload_program(data, metadata_bytes(metadata), new=new)
        except ProgramRejected:
            request.app.state.metrics.scanner_rejections.inc()
            raise
    response.headers["Location"] = f"/v1/programs/{program_id}"
    return program_json(service.program(program_id))


@contextmanager
def _staged(request: Request, file: UploadFile | None,
            source: UploadFile | None) -> Iterator[Path | bytes | None]:
    """What the service's ``data`` argument gets: a staged path, source bytes, or None.

    Source text goes to the service as bytes: a str could be taken for a server-side path.
    """
    if source is not None:
        yield source.file.read()
    elif file is not None:
        with staged_program(file.file, file.filename, request.app.state.policy.archive) as path:
            yield path
    else:
        yield None


@router.get("", response_model=ProgramList)
def list_programs(
    request: Request,
    service: Service,
    limit: Annotated[int, Query(ge=0)] = 20,
    skip: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, object]:
    """The caller's programs and the public ones (every program for an admin), newest first."""
    limit = min(limit, request.app.state.policy.max_page_size)
    return {"programs": [program_json(p) for p in service.programs(limit=limit, skip=skip)]}


@router.get("/{program_id}", response_model=ProgramDocument)
def get_program(program_id: str, service: Service) -> dict[str, object]:
    """One program (404 when it is missing or another user's private program)."""
    return program_json(service.program(program_id))


@router.put("/{program_id}", response_model=ProgramDocument, responses=openapi_responses(403, 413))
def replace_program(
    request: Request,
    program_id: str,
    service: Service,
    file: FileField = None,
    source: SourceField = None,
    metadata: MetadataField = None,
    name: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    max_execution_time: Annotated[str | None, Form(description="Seconds (a JSON number).")] = None,
    spec: Annotated[str | None, Form(description="The spec as JSON text.")] = None,
) -> dict[str, object]:
    """A new version (same id) from a new source and/or metadata, as a multipart form."""
    if file is not None and source is not None:
        raise ProgramError("give at most one of the parts 'file' and 'source'", "<upload>")
    meta, parsed_spec = metadata_bytes(metadata), spec_field(spec)
    seconds = number_field("max_execution_time", max_execution_time)
    with _staged(request, file, source) as data:
        try:
            service.update_program(program_id, data=data, metadata=meta, name=name,
                                   description=description,
                                   max_execution_time=seconds, spec=parsed_spec)
        except ProgramRejected:
            request.app.state.metrics.scanner_rejections.inc()
            raise
    return program_json(service.program(program_id))


@router.patch("/{program_id}", response_model=ProgramDocument, responses=openapi_responses(403))
def update_program(program_id: str, patch: ProgramPatch, service: Service) -> dict[str, object]:
    """A new version (same id) from changed metadata fields; the source stays."""
    service.update_program(
        program_id,
        metadata=patch.metadata,
        name=patch.name,
        description=patch.description,
        max_execution_time=patch.max_execution_time,
        spec=patch.spec,
    )
    return program_json(service.program(program_id))


@router.put("/{program_id}/visibility", response_model=ProgramDocument,
            responses=openapi_responses(403))
def set_visibility(program_id: str, body: VisibilityChange, service: Service) -> dict[str, object]:
    """Make the program public or private (owner or admin only)."""
    service.set_program_visibility(program_id, body.public)
    return program_json(service.program(program_id))


@router.delete("/{program_id}", status_code=204, responses=openapi_responses(403))
def delete_program(program_id: str, service: Service) -> Response:
    """Delete the program and its versions; its jobs remain, its queued jobs are cancelled."""
    service.delete_program(program_id)
    return Response(status_code=204)
