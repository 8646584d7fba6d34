"""The review of one upload, and of files and folders: the order of the passes.

1. size (PE701) before anything is decoded; 2. decoding (NUL bytes, ``# coding:``,
encodings); 3. line limits; 4. text tricks (bidi, control characters, confusables);
5. one parse; 6. the engine's ast pass, which also bounds the tree's depth and size;
7. bandit on the same tree. A limit or a parse failure stops the passes after it, with a
finding that rejects the file. Nothing here raises on hostile content.
"""

from __future__ import annotations

import ast
import os
import stat
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from engine import __version__
from engine.errors import ProgramError
from engine.scan.ast_rules import AstPass
from engine.scan.bandit_pass import BANDIT_VERSION, run_bandit
from engine.scan.findings import Finding
from engine.scan.policy import ScanPolicy, load_scan_policy
from engine.scan.report import Report
from engine.scan.source import SourceText
from engine.scan.source_checks import check_lines, check_size, check_text, decode_upload

TOOL = {"name": "program-engine", "version": __version__, "bandit": BANDIT_VERSION}


def scan_source(
    source: str | bytes, filename: str = "<upload>", policy: ScanPolicy | None = None
) -> Report:
    """Review one program's source; the upload path's entry point.

    ``source`` is the file's bytes (decoded as the interpreter would) or its text (taken as
    UTF-8). ``policy`` defaults to ``policies/scan.yaml``.
    """
    policy = policy or load_scan_policy()
    return Report.build([filename], review(source, filename, policy), policy, TOOL)


def scan_paths(paths: Iterable[str | os.PathLike[str]], policy: ScanPolicy | None = None) -> Report:
    """Review files, and every ``*.py`` file under folders (recursively, sorted).

    A path that does not exist raises :class:`~engine.errors.ProgramError`; a file that
    cannot be read, or is not a regular file, is rejected with a finding.
    """
    policy = policy or load_scan_policy()
    files = expand_paths(paths)
    findings: list[Finding] = []
    layout: dict[Path, frozenset[str]] = {}
    for file in files:
        findings.extend(review_file(file, policy, layout))
    return Report.build(files, findings, policy, TOOL)


def scan_files(files: Mapping[str, str | bytes], policy: ScanPolicy | None = None) -> Report:
    """Review the files of one upload (relative POSIX path -> content) as one report.

    The files may import each other: a top-level module or package of the upload is not
    "unlisted" (PE102), and relative imports that stay inside its packages are not PE103.
    Every file is reviewed in its own right.
    """
    policy = policy or load_scan_policy()
    names = {name: PurePosixPath(name.removeprefix("./")) for name in files}
    local = _top_level_names(path.parts for path in names.values())
    findings: list[Finding] = []
    for name, data in files.items():
        package = _package(names[name].parts[:-1])
        findings.extend(review(data, name, policy, local, package))
    return Report.build(list(files), findings, policy, TOOL)


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as given, and the ``*.py`` files under folders; duplicates removed."""
    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, name) for name in names if name.endswith(".py")]
            files.extend(sorted(found))
        elif path.exists() or path.is_symlink():
            files.append(os.fspath(raw))
        else:
            raise ProgramError("no such file or folder", filename=os.fspath(raw))
    return list(dict.fromkeys(files))


def review_file(
    file: str, policy: ScanPolicy, layout: dict[Path, frozenset[str]] | None = None
) -> list[Finding]:
    """Read ``file`` within the policy's size limit and review it.

    The file may import the modules beside it (or, inside a package, the modules beside the
    package): that is what the interpreter would find for it, and what an upload of its
    folder would provide. ``layout`` caches folder listings between files.
    """
    source = SourceText(file)
    limit = policy.limits.max_bytes
    try:
        info = os.stat(file)
        if not stat.S_ISREG(info.st_mode):
            return [source.finding("PE802", "not a regular file; nothing was reviewed")]
        too_large = check_size(info.st_size, source, policy.limits)
        if too_large is not None:
            return [too_large]
        with open(file, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        return [source.finding("PE802", f"cannot read the file: {exc.strerror or exc}")]
    local, package = _folder_context(Path(file), {} if layout is None else layout)
    return review(data, file, policy, local, package)


def _folder_context(path: Path, layout: dict[Path, frozenset[str]]) -> tuple[frozenset[str], str]:
    root, package = path.parent, []
    while (root / "__init__.py").is_file() and root.name.isidentifier() and root.parent != root:
        package.insert(0, root.name)
        root = root.parent
    if root not in layout:
        entries: list[tuple[str, ...]] = []
        try:
            with os.scandir(root) as listing:
                for entry in listing:
                    if entry.name.endswith(".py"):
                        entries.append((entry.name,))
                    elif entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
                        entries.append((entry.name, "__init__.py"))
        except OSError:
            pass
        layout[root] = _top_level_names(entries)
    return layout[root], ".".join(package)


def _top_level_names(paths: Iterable[tuple[str, ...]]) -> frozenset[str]:
    """The top-level module and package names that relative paths of ``.py`` files give."""
    names = set()
    for parts in paths:
        if len(parts) == 1 and parts[0].endswith(".py"):
            names.add(parts[0][:-3])
        elif len(parts) > 1:
            names.add(parts[0])
    return frozenset(name for name in names if name.isidentifier())


def _package(folders: tuple[str, ...]) -> str:
    return ".".join(folders) if all(part.isidentifier() for part in folders) else ""


def review(
    data: str | bytes,
    filename: str,
    policy: ScanPolicy,
    local_modules: frozenset[str] = frozenset(),
    package: str = "",
) -> list[Finding]:
    """Every finding for one file's content (see :class:`SourceText` for the last two)."""
    source = SourceText(filename, local_modules=local_modules, package=package)
    findings = _review(data, source, policy)
    findings = [f for f in findings if f.origin != "engine" or policy.rule_enabled(f.rule_id)]
    findings.sort(key=Finding.sort_key)
    return _cap(findings, policy.limits.max_findings_per_rule, source)


def _review(data: str | bytes, source: SourceText, policy: ScanPolicy) -> list[Finding]:
    limits = policy.limits
    if isinstance(data, str):
        too_large = check_size(len(data), source, limits)  # characters: a cheap lower bound
        if too_large is not None:
            return [too_large]
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            message = f"the text is not encodable as UTF-8: {exc.reason}"
            return [source.finding("PE605", message)]
    too_large = check_size(len(data), source, limits)
    if too_large is not None:
        return [too_large]

    decoded, findings = decode_upload(data, source)
    if not decoded:
        return findings
    over = check_lines(source, limits)
    if over:
        return findings + over
    findings += check_text(source)

    tree = _parse(source, findings)
    if tree is None:
        return findings
    result = AstPass(policy).run(tree, source)
    findings += result.findings
    if not result.complete or not policy.bandit.enabled:
        return findings
    bandit = run_bandit(tree, data, source, policy)
    findings += bandit.findings
    findings += [source.finding("PE802", reason) for reason in bandit.incomplete]
    return findings


def _parse(source: SourceText, findings: list[Finding]) -> ast.Module | None:
    try:
        return ast.parse(source.text, filename=source.filename)
    except SyntaxError as exc:
        line = exc.lineno or 0
        message = f"the file does not parse: {exc.msg}"
        findings.append(source.finding("PE801", message, line, max(exc.offset or 1, 1)))
    except (RecursionError, MemoryError):
        message = "the parser gave up: the code is nested too deeply"
        findings.append(source.finding("PE703", message))
    except ValueError as exc:  # e.g. an integer literal beyond the digit limit
        findings.append(source.finding("PE801", f"the file does not parse: {exc}"))
    return None


def _cap(findings: list[Finding], limit: int, source: SourceText) -> list[Finding]:
    """At most ``limit`` findings per rule; the rest become one counting finding."""
    counts = Counter(f.rule_id for f in findings)
    if all(count <= limit for count in counts.values()):
        return findings
    kept: list[Finding] = []
    taken: Counter[str] = Counter()
    for finding in findings:
        taken[finding.rule_id] += 1
        if taken[finding.rule_id] <= limit:
            kept.append(finding)
        elif taken[finding.rule_id] == limit + 1:
            hidden = counts[finding.rule_id] - limit
            kept.append(
                Finding(
                    rule_id=finding.rule_id,
                    rule_name=finding.rule_name,
                    severity=finding.severity,
                    confidence=finding.confidence,
                    message=f"{hidden} more finding(s) of this rule are not listed",
                    file=source.filename,
                    line=0,
                    column=1,
                    source_line="",
                    cwe=finding.cwe,
                    origin=finding.origin,
                )
            )
    return kept
