"""``program-engine images build|list|prune``: the sandbox's images, built without a registry."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from engine.sandbox.images import BuildProgress, ImageInfo

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_KINDS = ("program", "build-stage", "runtime", "base")


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w`` as a ``timedelta``."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30m, 12h, 7d or 2w")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover - the loop always returns


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _table(title: str, infos: list[ImageInfo], unique: dict[str, int] | None = None) -> object:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("kind")
    table.add_column("tag", overflow="fold")
    table.add_column("id")
    table.add_column("created")
    table.add_column("size", justify="right")
    if unique is not None:
        table.add_column("own", justify="right")
    for info in infos:
        row = [
            info.kind,
            ", ".join(info.tags) or "<none>",
            info.id.removeprefix("sha256:")[:12],
            info.created.strftime("%Y-%m-%d %H:%M"),
            _human_size(info.size),
        ]
        if unique is not None:
            row.append(_human_size(unique.get(info.id, 0)))
        table.add_row(*row)
    return table


def register(app: typer.Typer) -> None:
    images_app = typer.Typer(
        help="Build, list and prune the sandbox's images (no registry needed).",
        no_args_is_help=True,
    )
    app.add_typer(images_app, name="images")

    @images_app.command("build")
    def build(
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Build the runtime image (and its base) unless it is up to date."""
        import time

        from rich.console import Console
        from rich.markup import escape
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskID,
            TextColumn,
            TimeElapsedColumn,
        )

        from engine.errors import EngineError
        from engine.sandbox.images import ensure_runtime_image

        console = Console(stderr=True)
        started = time.monotonic()
        columns = (
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[phase]:<8}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}", style="dim"),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            tasks: dict[str, TaskID] = {}
            totals: dict[str, int] = {}

            def finish_all() -> None:
                for phase, task in tasks.items():
                    done = totals.get(phase, 1)
                    bar.update(task, total=done, completed=done)
                    bar.stop_task(task)

            def show(event: BuildProgress) -> None:
                if event.phase not in tasks:
                    finish_all()
                    tasks[event.phase] = bar.add_task("", total=None, phase=event.phase)
                task = tasks[event.phase]
                bar.update(task, description=escape(event.message)[:90])
                if event.total:
                    totals[event.phase] = event.total
                    bar.update(task, completed=event.completed or 0, total=event.total)

            try:
                tag = ensure_runtime_image(progress=show)
            except EngineError as exc:
                raise _fail(exc) from None
            finish_all()
        seconds = time.monotonic() - started
        built = bool(tasks)
        if as_json:
            typer.echo(json.dumps({"image": tag, "built": built, "seconds": round(seconds, 2)}))
        else:
            state = "built" if built else "up to date"
            console.print(f"runtime image [bold]{tag}[/bold] {state} ({seconds:.1f} s)")
            typer.echo(tag)

    @images_app.command("list")
    def list_(
        kind: Annotated[
            list[str] | None,
            typer.Option("--kind", help=f"Only these kinds: {', '.join(_KINDS)}."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """List the engine's images (labelled org.program-engine.kind) and the disk they
        really take: layers shared by several images (the runtime image under every program
        image) are counted once. "own" is what removing that image alone would free."""
        from rich.console import Console

        from engine.errors import EngineError
        from engine.sandbox.image_usage import last_used
        from engine.sandbox.images import images_disk_usage, list_images

        _check_kinds(kind)
        try:
            infos = list_images(kinds=kind or None)
            usage = images_disk_usage(infos)
        except EngineError as exc:
            raise _fail(exc) from None
        if as_json:
            images = [{**info.to_dict(), "own_size": usage.unique.get(info.id, 0),
                       "last_used": last_used(info.content_hash, info.created).isoformat()}
                      for info in infos]
            typer.echo(json.dumps({"images": images, **usage.to_dict()}))
            return
        title = (f"{len(infos)} images, {_human_size(usage.disk_bytes)} on disk "
                 f"({_human_size(usage.apparent_bytes)} if each were counted whole)")
        Console().print(_table(title, infos, usage.unique))

    @images_app.command("prune")
    def prune(
        older_than: Annotated[
            str | None,
            typer.Option("--older-than", metavar="DURATION",
                         help="Only images older than this (30m, 12h, 7d)."),
        ] = None,
        kind: Annotated[
            list[str] | None,
            typer.Option(
                "--kind",
                help=f"Kinds to prune (default: program): {', '.join(_KINDS)}. build-stage "
                "images are the layer cache of runtime builds.",
            ),
        ] = None,
        unused_for: Annotated[
            str | None,
            typer.Option("--unused-for", metavar="DURATION",
                         help="Only images no job has used for this long (30m, 12h, 7d); "
                              "the daemon does this on its own (policies/sandbox.yaml images)."),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show what would go; remove nothing.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Remove the engine's images by label, age and last use; images in use are kept."""
        from rich.console import Console

        from engine.errors import EngineError
        from engine.sandbox.images import prune_images

        _check_kinds(kind)
        age = parse_duration(older_than) if older_than else None
        unused = parse_duration(unused_for) if unused_for else None
        try:
            result = prune_images(older_than=age, kinds=kind or ("program",), dry_run=dry_run,
                                  unused_for=unused)
        except EngineError as exc:
            raise _fail(exc) from None
        if as_json:
            payload = {
                "dry_run": dry_run,
                "removed": [info.to_dict() for info in result.removed],
                "skipped": [{**info.to_dict(), "reason": why} for info, why in result.skipped],
            }
            typer.echo(json.dumps(payload))
            return
        console = Console()
        verb = "would remove" if dry_run else "removed"
        freed = _human_size(sum(info.size for info in result.removed))
        if result.removed:
            console.print(_table(f"{verb} {len(result.removed)} images ({freed})", result.removed))
        else:
            console.print(f"{verb} nothing")
        for info, why in result.skipped:
            console.print(f"kept {', '.join(info.tags) or info.id[:19]}: {why}")


def _check_kinds(kinds: list[str] | None) -> None:
    for kind in kinds or ():
        if kind not in _KINDS:
            raise typer.BadParameter(f"unknown kind {kind!r}; choose from {', '.join(_KINDS)}")
