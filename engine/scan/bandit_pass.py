"""bandit, through its Python API, on the tree the engine has already parsed.

bandit's own manager reads, tokenizes (for ``# nosec``) and parses every file, then visits
every node of the tree. Here it gets the engine's tree instead: ``ignore_nosec=True`` (an
upload's ``# nosec`` comment hides nothing, so the tokenizing is skipped too), and the visit
goes only to the node types bandit has tests or bookkeeping for, iteratively. The results
are bandit's own, with the same test ids, texts, lines and columns.

A file bandit cannot finish (one of its tests fails, or the visit itself does) is a finding
(PE802) and so a rejection: a partial review must never pass as a clean one.
"""

from __future__ import annotations

import ast
import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bandit
from bandit.core import config as b_config
from bandit.core import extension_loader
from bandit.core import manager as b_manager
from bandit.core import node_visitor as b_node_visitor

from engine.scan.findings import Finding, Level
from engine.scan.policy import ScanPolicy
from engine.scan.source import SourceText

BANDIT_VERSION: str = bandit.__version__

_LEVELS = {"LOW": Level.LOW, "MEDIUM": Level.MEDIUM, "HIGH": Level.HIGH}
# bandit's visitor keeps state (namespace, import aliases) in these handlers.
_BOOKKEEPING = frozenset({"ClassDef", "FunctionDef", "Import", "ImportFrom"})
# bandit configures its blacklist test through module globals when a test set is built, so
# building a test set and running it must not interleave between threads.
_LOCK = threading.Lock()
_CONFIG: b_config.BanditConfig | None = None

# bandit tests that only look for uses of these modules. When the policy rejects every
# import of them anyway, such a test cannot change a verdict, and is skipped (policy key
# ``bandit.skip_redundant``); a policy that allows one of the modules gets the test back.
TEST_TARGETS: dict[str, tuple[str, ...]] = {
    "B103": ("os",),
    "B113": ("requests", "httpx"),
    "B201": ("flask",),
    "B501": ("requests", "httpx"),
    "B502": ("ssl", "OpenSSL"),
    "B503": ("ssl", "OpenSSL"),
    "B504": ("ssl", "OpenSSL"),
    "B505": ("cryptography", "Crypto", "Cryptodome"),
    "B506": ("yaml",),
    "B507": ("paramiko",),
    "B508": ("pysnmp",),
    "B509": ("pysnmp",),
    "B601": ("paramiko",),
    "B602": ("subprocess",),
    "B603": ("subprocess",),
    "B605": ("os", "popen2", "commands", "subprocess"),
    "B606": ("os", "popen2", "commands"),
    "B607": ("os", "popen2", "commands", "subprocess"),
    "B609": ("os", "subprocess", "popen2", "commands"),
    "B610": ("django",),
    "B611": ("django",),
    "B612": ("logging.config",),
    "B614": ("torch",),
    "B615": ("huggingface_hub", "transformers", "datasets"),
    "B701": ("jinja2",),
    "B702": ("mako",),
    "B703": ("django",),
    "B704": ("markupsafe",),
}


@dataclass
class BanditResult:
    """bandit's findings, and the problems that left its review incomplete."""

    findings: list[Finding]
    incomplete: list[str]


def _config() -> b_config.BanditConfig:
    global _CONFIG
    if _CONFIG is None:
        _CONFIG = b_config.BanditConfig()
    return _CONFIG


class _SharedTreeVisitor(b_node_visitor.BanditNodeVisitor):
    """bandit's node visitor, driven over a given tree without recursion.

    Every node still gets ``_bandit_parent`` and ``_bandit_sibling`` (bandit's tests read
    them); ``pre_visit``/``visit``/``post_visit`` run only for node types in ``wanted``.
    """

    def process_tree(self, tree: ast.AST, wanted: frozenset[str]) -> dict[str, list[int]]:
        leave = 1  # phases: 0 enter a node, 1 leave it
        stack: list[tuple[int, ast.AST]] = []
        linked: list[ast.AST] = []
        try:
            self._push_children(tree, stack)
            while stack:
                phase, node = stack.pop()
                if phase == leave:
                    self.post_visit(node)
                    continue
                linked.append(node)
                if node.__class__.__name__ in wanted:
                    self.pre_visit(node)
                    self.visit(node)
                    stack.append((leave, node))
                self._push_children(node, stack)
            self.context = {
                "file_data": self.fdata,
                "filename": self.fname,
                "lineno": 0,
                "linerange": [0, 1],
                "col_offset": 0,
            }
            self.update_scores(self.tester.run_tests(self.context, "File"))
        finally:
            # Parent links put every node in a reference cycle; without them the tree is
            # freed as soon as the scan drops it, instead of by the cyclic collector.
            # (The Load/Store/Del context objects are shared by every tree, hence pop.)
            for node in linked:
                node.__dict__.pop("_bandit_parent", None)
            for _, node in stack:
                node.__dict__.pop("_bandit_parent", None)
        return self.scores

    @staticmethod
    def _push_children(node: ast.AST, stack: list[tuple[int, ast.AST]]) -> None:
        """Link ``node``'s children as bandit does, and stack them to be visited in order."""
        for name in reversed(node._fields):
            value = getattr(node, name, None)
            if type(value) is list:
                last = len(value) - 1
                for index in range(last, -1, -1):
                    item = value[index]
                    if isinstance(item, ast.AST):
                        item._bandit_sibling = value[index + 1] if index < last else None
                        item._bandit_parent = node
                        stack.append((0, item))
            elif isinstance(value, ast.AST):
                value._bandit_sibling = None
                value._bandit_parent = node
                stack.append((0, value))


class SharedTreeManager(b_manager.BanditManager):
    """A ``BanditManager`` that reviews trees parsed elsewhere (see :meth:`run_on_tree`)."""

    def wanted_node_types(self) -> frozenset[str]:
        checks = set(self.b_ts.tests)
        wanted = set(checks - {"File", "Str", "Bytes"}) | _BOOKKEEPING
        if checks & {"Str", "Bytes"}:
            wanted.add("Constant")
        return frozenset(wanted)

    def run_on_tree(
        self, fname: str, data: bytes, tree: ast.AST, on_error: Callable[[str], None]
    ) -> None:
        """Run every selected test on ``tree`` (parsed from ``data``); results accumulate in
        ``self.results``, a file bandit could not finish goes to ``self.skipped``."""
        self.metrics.begin(fname)
        visitor = _SharedTreeVisitor(
            fname, io.BytesIO(data), self.b_ma, self.b_ts, self.debug, {}, self.metrics
        )

        def report_error(test: str, context: Any, error: BaseException) -> None:
            on_error(f"bandit test {test} failed: {type(error).__name__}: {error}")

        visitor.tester.report_error = report_error
        try:
            score = visitor.process_tree(tree, self.wanted_node_types())
        except Exception as exc:  # RecursionError and MemoryError included
            self.skipped.append((fname, f"exception while scanning file: {exc!r}"))
            return
        self.scores.append(score)
        self.metrics.count_issues([score])
        self.results.extend(visitor.tester.results)


def skipped_tests(policy: ScanPolicy) -> list[str]:
    """The policy's ``bandit.skip`` list, plus the redundant tests (see ``TEST_TARGETS``)."""
    skipped = list(policy.bandit.skip)
    if policy.bandit.skip_redundant:
        skipped += [
            test_id
            for test_id, modules in TEST_TARGETS.items()
            if test_id not in skipped and all(_import_rejected(policy, m) for m in modules)
        ]
    return skipped


def _import_rejected(policy: ScanPolicy, module: str) -> bool:
    status = policy.import_status(module)
    if status == "allow":
        return False
    if status == "deny":
        rule, severity = "PE101", Level.HIGH
    else:
        rule, severity = "PE102", policy.imports.unlisted_severity
    return policy.rule_enabled(rule) and policy.blocks(severity, Level.HIGH)


def run_bandit(tree: ast.AST, data: bytes, source: SourceText, policy: ScanPolicy) -> BanditResult:
    """bandit's findings on ``tree``, placed in ``source``."""
    incomplete: list[str] = []
    # A plain relative name: bandit derives a module name from the path and would otherwise
    # look for __init__.py files around it.
    fname = "./" + (os.path.basename(source.filename) or "upload.py")
    with _LOCK:
        manager = SharedTreeManager(
            _config(),
            "file",
            quiet=True,
            ignore_nosec=True,
            profile={"exclude": skipped_tests(policy)},
        )
        manager.run_on_tree(fname, data, tree, incomplete.append)
    for _, reason in manager.skipped:
        incomplete.append(f"bandit skipped the file: {reason}")
    findings = [_finding(issue, source) for issue in manager.results]
    return BanditResult(findings, incomplete)


def _finding(issue: Any, source: SourceText) -> Finding:
    line = issue.lineno or 0
    cwe = getattr(issue.cwe, "id", 0) or None
    return source.external_finding(
        rule_id=issue.test_id,
        rule_name=_test_name(issue),
        severity=_LEVELS.get(issue.severity, Level.LOW),
        confidence=_LEVELS.get(issue.confidence, Level.LOW),
        message=issue.text,
        line=line,
        column=source.char_column(line, max(issue.col_offset, 0)),
        cwe=cwe,
        origin="bandit",
    )


def _test_name(issue: Any) -> str:
    """bandit's name for the test; blacklist findings get their entry's name (``random``)."""
    if issue.test == "blacklist":
        entry = extension_loader.MANAGER.blacklist_by_id.get(issue.test_id)
        if entry and entry.get("name"):
            return str(entry["name"])
    return issue.test or issue.test_id
