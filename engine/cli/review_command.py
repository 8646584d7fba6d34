"""``program-engine review list|show|approve|reject``: the reviewer's side of uploads.

``list`` shows the queue (``--status`` for the versions in another state, ``all`` for
every one); ``show ID VERSION`` prints the scan findings with their source lines and the
diff of every file and of the metadata against the previous approved version, coloured on
a terminal; ``approve`` and ``reject`` decide with ``--comment`` (required to reject).
``--json`` prints the review documents ``GET /v1/reviews`` answers. The common options
(``--user``, ``--url``...) and exit codes are those of :mod:`engine.cli.service_options`:
refusals (not a reviewer, not pending, one's own upload, an empty rejection comment) end
with one line on stderr and exit 2.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from engine.cli.output import console, error_console, print_json
from engine.cli.service_options import ServiceOptions, open_service, service_command
from engine.cli.tables import local_time, print_table

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ProgramArgument = Annotated[str, typer.Argument(help="The program's id.")]
VersionArgument = Annotated[int, typer.Argument(help="The version to review.", min=1)]


def register(app: typer.Typer) -> None:
    review_app = typer.Typer(help="Review uploaded program versions: list, show, approve, "
                             "reject.", no_args_is_help=True)
    app.add_typer(review_app, name="review")
    review_app.command("list")(list_reviews)
    review_app.command("show")(show)
    review_app.command("approve")(approve)
    review_app.command("reject")(reject)


@service_command
def list_reviews(
    service: ServiceOptions,
    status: Annotated[str, typer.Option(
        "--status", help="pending_review, approved, rejected or all.")] = "pending_review",
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The versions waiting for review (or in another state), oldest first."""
    with open_service(service, as_json=as_json) as engine:
        reviews = engine.reviews(status=None if status == "all" else status, limit=limit)
    if as_json:
        print_json([review.to_dict() for review in reviews])
        return
    if not reviews:
        error_console.print(f"no reviews ({status})")
        return
    from rich.table import Table

    table = Table("program", "version", "status", "uploader", "uploaded", "visibility",
                  "decided by")
    for review in reviews:
        table.add_row(review.program_id, str(review.version), review.status, review.uploader,
                      local_time(review.uploaded_at), review.visibility,
                      review.reviewed_by or "")
    print_table(table)


@service_command
def show(program_id: ProgramArgument, version: VersionArgument, service: ServiceOptions,
         as_json: JsonOption = False) -> None:
    """A version's review: findings with source lines, diffs, uploader, time, visibility."""
    with open_service(service, as_json=as_json) as engine:
        review = engine.review(program_id, version)
    if as_json:
        print_json(review.to_dict())
        return
    print_review(review)


@service_command
def approve(
    program_id: ProgramArgument,
    version: VersionArgument,
    service: ServiceOptions,
    comment: Annotated[str, typer.Option("--comment", help="Why (optional).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Approve a pending version: jobs of the program run it from now on."""
    _decide(service, as_json, lambda engine: engine.approve_version(program_id, version,
                                                                     comment))


@service_command
def reject(
    program_id: ProgramArgument,
    version: VersionArgument,
    service: ServiceOptions,
    comment: Annotated[str, typer.Option("--comment", help="Why (required).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Reject a pending version with a comment the uploader will see."""
    _decide(service, as_json, lambda engine: engine.reject_version(program_id, version,
                                                                    comment))


def _decide(service: ServiceOptions, as_json: bool, decide: Any) -> None:
    with open_service(service, as_json=as_json) as engine:
        review = decide(engine)
    if as_json:
        print_json(review.to_dict())
        return
    error_console.print(f"{review.program_id} v{review.version} is now {review.status}",
                        markup=False)


def print_review(review: Any) -> None:
    """The review as text on stdout; diff lines coloured when stdout is a terminal."""
    from rich.markup import escape

    data = review.to_dict()
    base = data.get("base_version")
    out = console.print
    out(f"{data['program_id']} v{data['version']} ({data['name']}): {data['status']}",
        markup=False)
    out(f"  uploaded by {data['uploader']} at {local_time(review.uploaded_at)}; "
        f"{data['visibility']}; owner {data['owner']}", markup=False)
    if data.get("reviewed_by"):
        out(f"  decided by {data['reviewed_by']}: {data.get('review_comment') or ''}",
            markup=False)
    out(f"  scan: {data.get('scan_summary') or 'no report'}", markup=False)
    for finding in data.get("findings") or []:
        out(f"\n[yellow]{escape(finding['file'])}:{finding['line']}[/yellow] "
            f"{escape(finding['rule_id'])} ({finding['severity']}) "
            f"{escape(finding['message'])}")
        for line in finding.get("context") or []:
            mark = ">" if line["line"] == finding["line"] else " "
            out(f"  {mark}{line['line']:5d} | {line['text']}", markup=False)
    against = f"v{base}" if base is not None else "nothing (no approved version before)"
    out(f"\ndiff against {against}:", markup=False)
    for text in [*(data.get("diff") or {}).values(), data.get("metadata_diff") or ""]:
        for line in text.splitlines():
            style = ("bold" if line.startswith(("---", "+++")) else
                     "green" if line.startswith("+") else
                     "red" if line.startswith("-") else
                     "cyan" if line.startswith("@@") else None)
            out(escape(line), style=style, markup=False, soft_wrap=True)
