"""The engine's own pass over the syntax tree, driven by the scan policy.

One iterative walk (no recursion, so hostile nesting cannot exhaust the stack) collects
imports, name bindings, calls and attribute chains; a short resolution step then follows
aliases (``e = exec``, ``import os as o``, ``from os import system as s``, ``g = getattr``)
flow-insensitively and judges every use. Resolution is deliberately conservative: a
binding that *might* not run never hides a builtin, except a function's own locals, which
always shadow.

The rules are catalogued in ``rules.py``; this module decides where they apply.
"""

from __future__ import annotations

import ast
import builtins
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.scan.findings import Finding, Level
from engine.scan.policy import ScanPolicy
from engine.scan.source import SourceText, clip

BUILTIN_NAMES = frozenset(dir(builtins))

# Bare names judged wherever they are read, unless a function-local binding shadows them.
NAME_RULES = {
    "exec": "PE201",
    "eval": "PE201",
    "compile": "PE201",
    "__import__": "PE104",
    "breakpoint": "PE502",
    "input": "PE503",
    "globals": "PE402",
    "locals": "PE402",
}
NAME_MESSAGES = {
    "PE201": "{name} runs code that is not in the reviewed source",
    "PE104": "__import__ imports modules by a name given at run time",
    "PE502": "breakpoint() starts a debugger on the protocol channel",
    "PE503": "input() reads the engine's protocol channel",
    "PE402": "{name}() hands out a namespace, __builtins__ included",
}
# Module globals that lead to the builtins and the import machinery.
ESCAPE_NAMES = frozenset({"__builtins__", "__loader__", "__spec__"})
# Builtins whose calls are checked argument by argument; taken as a value, they are PE404.
CHECKED_BUILTINS = frozenset({"getattr", "setattr", "delattr", "vars", "open"})

CODE_OBJECT_NAMES = frozenset({"types.CodeType", "types.FunctionType", "types.LambdaType"})

_DYNAMIC_CODE = {"builtins.exec", "builtins.eval", "builtins.compile"}
_DYNAMIC_IMPORT = {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
# canonical name -> indexes of the positional arguments that are attribute names
_REFLECTION = {
    "builtins.getattr": (1,),
    "builtins.setattr": (1,),
    "builtins.delattr": (1,),
    "operator.attrgetter": None,  # every positional argument
    "operator.methodcaller": (0,),
}
# canonical name -> default mode; these take (file, mode)
_OPENERS = {
    "builtins.open": "r",
    "io.open": "r",
    "io.FileIO": "r",
    "codecs.open": "r",
    "numpy.memmap": "r+",
}
# functions that always write to their first argument (a path, or a file object)
_WRITERS = frozenset(
    {
        "numpy.save",
        "numpy.savez",
        "numpy.savez_compressed",
        "numpy.savetxt",
        "scipy.io.savemat",
        "scipy.io.mmwrite",
        "scipy.io.wavfile.write",
    }
)
_PATH_KEYWORDS = ("file", "filename", "fname", "file_name", "target", "path")
_ALIAS_CALLS = {
    "builtins.breakpoint": "PE502",
    "builtins.input": "PE503",
    "builtins.globals": "PE402",
    "builtins.locals": "PE402",
}

# Builtins whose calls some rule judges; calls to other builtins need no resolution.
_JUDGED_BUILTINS = frozenset(
    name.partition(".")[2]
    for name in (*_DYNAMIC_CODE, *_DYNAMIC_IMPORT, *_REFLECTION, *_OPENERS, *_ALIAS_CALLS)
    if name.startswith("builtins.")
) | {"vars"}

_FUNCTION_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_TYPE_EXPRESSION_NODES = (
    ast.Expression,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Tuple,
    ast.List,
    ast.Constant,
    ast.BinOp,
    ast.BitOr,
    ast.Load,
    ast.Slice,
)
_MAX_ANNOTATION = 500
_MAX_RESOLVE_DEPTH = 16


@dataclass
class AstResult:
    """What the pass found, and how big the tree was (``complete`` is False on abort)."""

    findings: list[Finding]
    depth: int
    nodes: int
    complete: bool


@dataclass
class _Walk:
    """Everything the walk collects for the resolution step."""

    aliases: dict[str, list[str | ast.expr]] = field(default_factory=dict)
    string_values: dict[str, list[str]] = field(default_factory=dict)
    name_refs: list[tuple[ast.Name, tuple[ast.AST, ...]]] = field(default_factory=list)
    name_loads: list[ast.Name] = field(default_factory=list)
    chain_heads: list[ast.Attribute] = field(default_factory=list)
    dict_refs: list[ast.Attribute] = field(default_factory=list)
    calls: list[tuple[ast.Call, tuple[ast.AST, ...]]] = field(default_factory=list)
    call_funcs: set[int] = field(default_factory=set)
    attr_values: set[int] = field(default_factory=set)
    docstrings: set[int] = field(default_factory=set)
    denied_roots: set[str] = field(default_factory=set)


class AstPass:
    """The ast rules of one policy. It keeps no state between files, so one instance may
    review many files, from several threads."""

    def __init__(self, policy: ScanPolicy) -> None:
        self.policy = policy
        names = policy.names
        self.escape_attributes = frozenset(names.escape_attributes)
        self.frame_attributes = frozenset(names.frame_attributes)
        self.module_attributes = frozenset(names.module_attributes)
        dunders = sorted(
            (name for name in self.escape_attributes if name.startswith("__")), key=len
        )
        self.escape_string_re = re.compile("|".join(map(re.escape, reversed(dunders))) or "(?!)")
        self.disabled = policy.disabled_rules
        self.scratch = tuple(policy.scratch_dirs)

    def run(self, tree: ast.AST, source: SourceText) -> AstResult:
        run = _Run(self, source)
        complete = run.walk(tree)
        if complete:
            run.resolve()
        findings = [f for f in run.findings if f.rule_id not in self.disabled]
        return AstResult(findings, run.max_depth, run.nodes, complete)


class _Run:
    """One file's walk and resolution."""

    def __init__(self, rules: AstPass, source: SourceText) -> None:
        self.rules = rules
        self.policy = rules.policy
        self.source = source
        self.findings: list[Finding] = []
        self.seen: set[tuple[str, int, int]] = set()
        self.data = _Walk()
        self.local_names: dict[int, frozenset[str]] = {}
        self.resolved: dict[str, frozenset[str]] = {}
        self.max_depth = 0
        self.nodes = 0

    # --- reporting --------------------------------------------------------------------

    def report(
        self, rule_id: str, node: ast.AST, message: str, severity: Level | None = None
    ) -> None:
        line = getattr(node, "lineno", 0) or 0
        column = self.source.char_column(line, getattr(node, "col_offset", 0) or 0)
        key = (rule_id, line, column)
        if key in self.seen:
            return
        self.seen.add(key)
        self.findings.append(self.source.finding(rule_id, message, line, column, severity=severity))

    # --- the walk ---------------------------------------------------------------------

    def walk(self, tree: ast.AST) -> bool:
        limits = self.policy.limits
        max_depth, max_nodes = limits.max_ast_depth, limits.max_ast_nodes
        handlers = {
            ast.Import: self._import,
            ast.ImportFrom: self._import_from,
            ast.Name: self._name,
            ast.Attribute: self._attribute,
            ast.Call: self._call,
            ast.Assign: self._assign,
            ast.AnnAssign: self._ann_assign,
            ast.NamedExpr: self._named_expr,
            ast.Expr: self._expr,
            ast.Constant: self._constant,
            ast.Subscript: self._subscript,
            ast.FunctionDef: self._function,
            ast.AsyncFunctionDef: self._function,
        }
        stack: list[tuple[ast.AST, int, tuple[ast.AST, ...]]] = [(tree, 1, ())]
        push = stack.append
        pop = stack.pop
        nodes = 0
        deepest = 0
        while stack:
            node, depth, scopes = pop()
            nodes += 1
            if depth > deepest:
                deepest = depth
                if depth > max_depth:
                    self.max_depth, self.nodes = depth, nodes
                    self.report(
                        "PE703",
                        node,
                        f"the syntax tree is nested deeper than {max_depth} levels",
                    )
                    return False
            if nodes > max_nodes:
                self.max_depth, self.nodes = deepest, nodes
                self.report("PE704", node, f"the syntax tree has more than {max_nodes} nodes")
                return False
            kind = type(node)
            handler = handlers.get(kind)
            if handler is not None:
                handler(node, scopes)
            child_depth = depth + 1
            if kind in _SCOPE_KINDS:
                for child, child_scopes in _scope_children(node, scopes):
                    push((child, child_depth, child_scopes))
                continue
            for name in node._fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            push((item, child_depth, scopes))
                elif isinstance(value, ast.AST):
                    push((value, child_depth, scopes))
        self.max_depth, self.nodes = deepest, nodes
        return True

    # --- node handlers ----------------------------------------------------------------

    def _bind(self, name: str, value: str | ast.expr) -> None:
        self.data.aliases.setdefault(name, []).append(value)

    def _import(self, node: ast.Import, scopes: tuple) -> None:
        for alias in node.names:
            self._check_module(alias.name, node)
            if alias.asname:
                self._bind(alias.asname, alias.name)
            else:
                top = alias.name.partition(".")[0]
                self._bind(top, top)

    def _import_from(self, node: ast.ImportFrom, scopes: tuple) -> None:
        if node.level:
            module = self._relative_target(node)
            if module is None:
                dots = "." * node.level
                written = f"from {dots}{node.module or ''} import " + ", ".join(
                    alias.name for alias in node.names
                )
                self.report(
                    "PE103",
                    node,
                    f"relative import ({written}) reaches modules outside the upload",
                )
                return
        else:
            module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                self._check_module(module, node)
                continue
            dotted = f"{module}.{alias.name}"
            self._check_module(dotted, node, shown=module)
            self._bind(alias.asname or alias.name, dotted)

    def _relative_target(self, node: ast.ImportFrom) -> str | None:
        """The absolute module a relative import names, if it stays inside the upload's
        own packages; ``None`` when it climbs out (or the file is not in a package)."""
        package = self.source.package
        if not package:
            return None
        parts = package.split(".")
        if node.level - 1 >= len(parts):
            return None
        base = parts[: len(parts) - (node.level - 1)]
        if base[0] not in self.source.local_modules:
            return None
        return ".".join(base + ([node.module] if node.module else []))

    def _check_module(self, dotted: str, node: ast.AST, shown: str | None = None) -> None:
        """Judge an import of ``dotted`` (a module, or a name inside one)."""
        if dotted in CODE_OBJECT_NAMES:
            self.report("PE202", node, f"imports {dotted}, which builds functions from bytecode")
            return
        status = self.policy.import_status(dotted)
        if status == "allow":
            return
        if status == "deny":
            entry = self.policy.denied_entry(dotted)
            self.data.denied_roots.add(dotted.partition(".")[0])
            self.report(
                "PE101", node, f"import of {dotted!r}, denied by the policy (entry {entry!r})"
            )
            return
        if self.source.is_local(dotted):
            return  # another file of the same upload, reviewed in its own right
        self.report(
            "PE102",
            node,
            f"import of {(shown or dotted)!r}, which is not on the policy's allow list",
            severity=self.policy.imports.unlisted_severity,
        )

    def _name(self, node: ast.Name, scopes: tuple) -> None:
        if type(node.ctx) is not ast.Load:
            return
        name = node.id
        if name in ESCAPE_NAMES:
            self.report("PE302", node, f"{name} leads to the builtins and the import machinery")
        elif name in NAME_RULES or name in CHECKED_BUILTINS:
            self.data.name_refs.append((node, scopes))
        if id(node) not in self.data.attr_values:
            self.data.name_loads.append(node)

    def _attribute(self, node: ast.Attribute, scopes: tuple) -> None:
        attr = node.attr
        rules = self.rules
        if attr in rules.escape_attributes:
            self.report("PE301", node, f"attribute {attr} leads to the interpreter's internals")
        elif attr in rules.frame_attributes:
            self.report("PE303", node, f"attribute {attr} walks frames or tracebacks")
        elif attr in rules.module_attributes:
            self.report(
                "PE305", node, f"attribute {attr!r} reaches the module {attr} through another"
            )
        elif attr == "__dict__":
            self.data.dict_refs.append(node)
        data = self.data
        data.attr_values.add(id(node.value))
        if id(node) not in data.attr_values and type(node.ctx) is ast.Load:
            data.chain_heads.append(node)

    def _call(self, node: ast.Call, scopes: tuple) -> None:
        self.data.calls.append((node, scopes))
        self.data.call_funcs.add(id(node.func))
        for keyword in node.keywords:
            if keyword.arg == "allow_pickle" and not _is_false(keyword.value):
                self.report(
                    "PE203", keyword.value, "allow_pickle lets this call unpickle arbitrary objects"
                )

    def _assign(self, node: ast.Assign, scopes: tuple) -> None:
        for target in node.targets:
            self._bind_target(target, node.value)

    def _ann_assign(self, node: ast.AnnAssign, scopes: tuple) -> None:
        self._check_annotation(node.annotation)
        if node.value is not None:
            self._bind_target(node.target, node.value)

    def _named_expr(self, node: ast.NamedExpr, scopes: tuple) -> None:
        self._bind_target(node.target, node.value)

    def _bind_target(self, target: ast.expr, value: ast.expr) -> None:
        kind = type(target)
        if kind is ast.Name:
            value_kind = type(value)
            if value_kind is ast.Name or value_kind is ast.Attribute:
                self._bind(target.id, value)
            elif value_kind is ast.Constant and isinstance(value.value, str):
                self.data.string_values.setdefault(target.id, []).append(value.value)
        elif (
            (kind is ast.Tuple or kind is ast.List)
            and type(value) in (ast.Tuple, ast.List)
            and len(target.elts) == len(value.elts)
        ):
            for sub_target, sub_value in zip(target.elts, value.elts, strict=True):
                self._bind_target(sub_target, sub_value)

    def _expr(self, node: ast.Expr, scopes: tuple) -> None:
        if type(node.value) is ast.Constant:
            self.data.docstrings.add(id(node.value))

    def _constant(self, node: ast.Constant, scopes: tuple) -> None:
        value = node.value
        if type(value) is not str or "_" not in value or id(node) in self.data.docstrings:
            return
        match = self.rules.escape_string_re.search(value) if "__" in value else None
        if match:
            self.report("PE403", node, f"string {clip(repr(value), 80)} names {match.group()}")
        elif value in self.rules.frame_attributes:
            self.report("PE403", node, f"string {value!r} names a frame attribute")

    def _subscript(self, node: ast.Subscript, scopes: tuple) -> None:
        value, key = node.value, node.slice
        literal = type(key) is ast.Constant and isinstance(key.value, str)
        if literal and key.value in self.rules.module_attributes:
            self.report("PE305", key, f"key {key.value!r} reaches the module {key.value}")
        if _is_namespace(value) and not literal:
            self.report("PE401", node, "a namespace is indexed with a name computed at run time")

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scopes: tuple) -> None:
        arguments = node.args
        for arg in (
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            arguments.vararg,
            arguments.kwarg,
        ):
            if arg is not None and arg.annotation is not None:
                self._check_annotation(arg.annotation)
        if node.returns is not None:
            self._check_annotation(node.returns)

    def _check_annotation(self, annotation: ast.expr) -> None:
        if type(annotation) is not ast.Constant or not isinstance(annotation.value, str):
            return
        text = annotation.value
        if len(text) <= _MAX_ANNOTATION and _is_type_expression(text):
            return
        self.report(
            "PE204", annotation, f"string annotation {clip(repr(text), 80)} is code, not a type"
        )

    # --- resolution -------------------------------------------------------------------

    def resolve(self) -> None:
        data = self.data
        for node, scopes in data.name_refs:
            self._judge_name(node, scopes)
        aliases = data.aliases
        for node in data.chain_heads:
            root = node.value
            while type(root) is ast.Attribute:
                root = root.value
            if type(root) is ast.Name and root.id in aliases:
                self._judge_reference(node)
        for node in data.name_loads:
            if node.id in data.aliases:
                self._judge_reference(node)
        for node in data.dict_refs:
            modules = self._imported(node.value)
            if modules:
                self.report("PE304", node, f"__dict__ of {_one(modules)} exposes all its names")
        for node, scopes in data.calls:
            self._judge_call(node, scopes)

    def _judge_name(self, node: ast.Name, scopes: tuple) -> None:
        name = node.id
        if self._is_local(name, scopes):
            return
        rule = NAME_RULES.get(name)
        if rule is not None:
            self.report(rule, node, NAME_MESSAGES[rule].format(name=name))
        elif id(node) not in self.data.call_funcs:
            self.report(
                "PE404", node, f"{name} is taken as a value, so its calls cannot be checked"
            )

    def _judge_reference(self, node: ast.expr) -> None:
        """Judge a name or attribute chain by what it resolves to."""
        written = _dotted(node)
        for canonical in sorted(self._resolve(node)):
            if canonical.startswith("builtins."):
                continue  # builtins are judged by name, and importing builtins is PE101
            if canonical in CODE_OBJECT_NAMES:
                self.report("PE202", node, f"{written} is {canonical}, which builds functions")
                continue
            entry = self.policy.denied_entry(canonical)
            if entry is None:
                continue
            if written == canonical and canonical.partition(".")[0] in self.data.denied_roots:
                continue  # the import already says so
            shown = written if written == canonical else f"{written} (that is {canonical})"
            self.report("PE105", node, f"{shown} is denied by the policy (entry {entry!r})")

    def _judge_call(self, node: ast.Call, scopes: tuple) -> None:
        func = node.func
        targets = self._resolve_callee(func, scopes)
        if not targets:
            return
        written = _dotted(func)
        for canonical in sorted(targets):
            # A builtin called by its own name is judged where the name is read.
            direct = type(func) is ast.Name and canonical == f"builtins.{func.id}"
            via = "" if direct else f" (called as {written})"
            if canonical in _DYNAMIC_CODE:
                if not direct:
                    short = canonical.partition(".")[2]
                    self.report(
                        "PE201", node, f"{written} is {short}, which runs code built at run time"
                    )
            elif canonical in _DYNAMIC_IMPORT:
                self._judge_dynamic_import(node, canonical)
            elif canonical in _REFLECTION:
                self._judge_reflection(node, canonical, via)
            elif canonical == "builtins.vars":
                self._judge_vars(node, via)
            elif canonical in _OPENERS:
                self._judge_open(node, canonical, via)
            elif canonical in _WRITERS:
                self._judge_writer(node, canonical)
            elif canonical in _ALIAS_CALLS and not direct:
                rule = _ALIAS_CALLS[canonical]
                short = canonical.partition(".")[2]
                self.report(rule, node, f"{written} is {short}(){via}")

    def _judge_dynamic_import(self, node: ast.Call, canonical: str) -> None:
        argument = node.args[0] if node.args else _keyword(node, "name")
        if type(argument) is ast.Constant and isinstance(argument.value, str):
            if argument.value:
                self._check_module(argument.value, node)
            return
        self.report("PE104", node, f"{canonical} imports a module named at run time")

    def _judge_reflection(self, node: ast.Call, canonical: str, via: str) -> None:
        short = canonical.rpartition(".")[2]
        positions = _REFLECTION[canonical]
        args = node.args
        if any(type(arg) is ast.Starred for arg in args):
            self.report("PE401", node, f"{short}(){via} with unpacked arguments")
            return
        names = args if positions is None else [args[i] for i in positions if i < len(args)]
        for argument in names:
            if type(argument) is not ast.Constant or not isinstance(argument.value, str):
                self.report(
                    "PE401", node, f"{short}(){via} with an attribute name computed at run time"
                )
                continue
            for attr in argument.value.split("."):
                self._judge_attribute_name(node, short, attr, args[0] if args else None, via)

    def _judge_attribute_name(
        self, node: ast.Call, short: str, attr: str, obj: ast.expr | None, via: str
    ) -> None:
        rules = self.rules
        if attr in rules.escape_attributes:
            self.report("PE403", node, f"{short}(){via} reaches {attr}")
        elif attr in rules.frame_attributes:
            self.report("PE303", node, f"{short}(){via} reaches the frame attribute {attr}")
        elif attr in rules.module_attributes:
            self.report("PE305", node, f"{short}(){via} reaches the module {attr}")
        elif attr == "__dict__" and obj is not None and short == "getattr":
            modules = self._imported(obj)
            if modules:
                self.report("PE304", node, f"getattr(){via} reaches __dict__ of {_one(modules)}")

    def _judge_vars(self, node: ast.Call, via: str) -> None:
        if not node.args:
            self.report("PE402", node, f"vars(){via} without an argument hands out locals()")
            return
        modules = self._imported(node.args[0])
        if modules:
            self.report("PE304", node, f"vars(){via} of {_one(modules)} exposes all its names")

    def _judge_open(self, node: ast.Call, canonical: str, via: str) -> None:
        mode_node = node.args[1] if len(node.args) > 1 else _keyword(node, "mode")
        if mode_node is None:
            mode: str | None = _OPENERS[canonical]
        elif type(mode_node) is ast.Constant and isinstance(mode_node.value, str):
            mode = mode_node.value
        else:
            mode = None
        writes = None if mode is None else any(flag in mode for flag in "wax+")
        if writes is False:
            return
        short = canonical.rpartition(".")[2]
        path_node = node.args[0] if node.args else _keyword(node, *_PATH_KEYWORDS)
        verdict, shown = self._path_verdict(path_node)
        scratch = ", ".join(self.rules.scratch)
        how = f"{short}(){via}" + ("" if writes else " with a mode computed at run time")
        if verdict == "inside":
            return
        if verdict == "outside":
            self.report(
                "PE501",
                node,
                f"{how} writes {shown}, outside the scratch space ({scratch})",
                severity=Level.HIGH if writes else Level.MEDIUM,
            )
        elif verdict == "suffix":
            self.report(
                "PE501",
                node,
                f"{how} writes {shown}; the part after the scratch folder is computed",
                severity=Level.LOW,
            )
        else:
            self.report(
                "PE501",
                node,
                f"{how} may write to a path computed at run time (scratch space: {scratch})",
                severity=Level.MEDIUM,
            )

    def _judge_writer(self, node: ast.Call, canonical: str) -> None:
        path_node = node.args[0] if node.args else _keyword(node, *_PATH_KEYWORDS)
        verdict, shown = self._path_verdict(path_node)
        if verdict == "inside":
            return
        scratch = ", ".join(self.rules.scratch)
        if verdict == "outside":
            self.report(
                "PE501",
                node,
                f"{canonical}() writes {shown}, outside the scratch space ({scratch})",
            )
        else:
            self.report(
                "PE501",
                node,
                f"{canonical}() writes to a target computed at run time (a path or a buffer)",
                severity=Level.LOW,
            )

    def _path_verdict(self, node: ast.expr | None) -> tuple[str, str]:
        """``inside``/``outside`` the scratch space, ``suffix`` (computed after a scratch
        prefix) or ``unknown``, and the path as shown in messages."""
        if node is None:
            return "unknown", "?"
        kind = type(node)
        if kind is ast.Constant and isinstance(node.value, str | bytes):
            path = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            return ("inside" if self._in_scratch(path) else "outside"), repr(path)
        if kind is ast.JoinedStr and node.values:
            first = node.values[0]
            if type(first) is ast.Constant and isinstance(first.value, str):
                prefix = first.value
                shown = repr(prefix + "…")
                scratch = self.rules.scratch
                if ".." not in prefix and any(prefix.startswith(d + "/") for d in scratch):
                    return "suffix", shown
                if prefix.startswith("/") and not any(
                    (d + "/").startswith(prefix) for d in self.rules.scratch
                ):
                    return "outside", shown
            return "unknown", "?"
        if kind is ast.Name:
            values = self.data.string_values.get(node.id)
            if values and node.id not in self.data.aliases:
                outside = [v for v in values if not self._in_scratch(v)]
                if outside:
                    return "outside", repr(outside[0])
                return "inside", repr(values[0])
        return "unknown", "?"

    def _in_scratch(self, path: str) -> bool:
        if not path.startswith("/"):
            return False
        normal = posixpath.normpath(path)
        return any(normal.startswith(folder + "/") for folder in self.rules.scratch)

    # --- names and scopes -------------------------------------------------------------

    def _resolve(self, node: ast.expr, depth: int = 0) -> frozenset[str]:
        """Every dotted name ``node`` may stand for (flow-insensitive)."""
        kind = type(node)
        if kind is ast.Name:
            return self._resolve_name(node.id, depth)
        if kind is ast.Attribute:
            bases = self._resolve(node.value, depth)
            return frozenset(f"{base}.{node.attr}" for base in bases)
        return frozenset()

    def _resolve_name(self, name: str, depth: int) -> frozenset[str]:
        cached = self.resolved.get(name)
        if cached is not None:
            return cached
        if depth > _MAX_RESOLVE_DEPTH:
            return frozenset()
        self.resolved[name] = frozenset()  # cycle guard: a = b; b = a
        found: set[str] = set()
        for entry in self.data.aliases.get(name, ()):
            if isinstance(entry, str):
                found.add(entry)
            else:
                found.update(self._resolve(entry, depth + 1))
        if name in BUILTIN_NAMES:
            found.add(f"builtins.{name}")
        result = frozenset(found)
        self.resolved[name] = result
        return result

    def _resolve_callee(self, func: ast.expr, scopes: tuple) -> frozenset[str]:
        if type(func) is ast.Name:
            name = func.id
            if name not in self.data.aliases:
                if name in _JUDGED_BUILTINS and not self._is_local(name, scopes):
                    return frozenset({f"builtins.{name}"})
                return frozenset()
            resolved = self._resolve_name(name, 0)
            if name in BUILTIN_NAMES and self._is_local(name, scopes):
                resolved = resolved - {f"builtins.{name}"}
            return resolved
        if type(func) is ast.Attribute:
            return self._resolve(func)
        return frozenset()

    def _imported(self, node: ast.expr) -> frozenset[str]:
        """The imported modules (or names in them) ``node`` may be."""
        return frozenset(name for name in self._resolve(node) if not name.startswith("builtins."))

    def _is_local(self, name: str, scopes: tuple) -> bool:
        for scope in scopes:
            names = self.local_names.get(id(scope))
            if names is None:
                names = self.local_names[id(scope)] = _bound_names(scope)
            if name in names:
                return True
        return False


# --- helpers -------------------------------------------------------------------------------

_SCOPE_KINDS = frozenset(
    {
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.Lambda,
        ast.ListComp,
        ast.SetComp,
        ast.GeneratorExp,
        ast.DictComp,
    }
)


def _scope_children(
    node: ast.AST, scopes: tuple[ast.AST, ...]
) -> Iterable[tuple[ast.AST, tuple[ast.AST, ...]]]:
    """A scope's children, each with the scopes it is evaluated in.

    Decorators, defaults and annotations belong to the enclosing scope; the body to the
    function. A comprehension's first iterable is evaluated outside it.
    """
    inner = (*scopes, node)
    if isinstance(node, _FUNCTION_SCOPES):
        body = node.body if isinstance(node.body, list) else [node.body]
        for child in body:
            yield child, inner
        yield node.args, scopes
        for name in node._fields:
            if name in ("body", "args", "name"):
                continue
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        yield item, scopes
            elif isinstance(value, ast.AST):
                yield value, scopes
        return
    generators = node.generators  # a comprehension
    for index, generator in enumerate(generators):
        yield generator.target, inner
        yield generator.iter, (scopes if index == 0 else inner)
        for condition in generator.ifs:
            yield condition, inner
    if isinstance(node, ast.DictComp):
        yield node.key, inner
        yield node.value, inner
    else:
        yield node.elt, inner


def _bound_names(scope: ast.AST) -> frozenset[str]:
    """Names local to a function or comprehension scope (minus ``global`` ones)."""
    names: set[str] = set()
    declared_global: set[str] = set()
    if isinstance(scope, _FUNCTION_SCOPES):
        arguments = scope.args
        for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
            names.add(arg.arg)
        for arg in (arguments.vararg, arguments.kwarg):
            if arg is not None:
                names.add(arg.arg)
        stack = list(scope.body) if isinstance(scope.body, list) else [scope.body]
    else:
        stack = [generator.target for generator in scope.generators]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            if type(node.ctx) is not ast.Load:
                names.add(node.id)
            continue
        if kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            names.add(node.name)
            continue
        if kind is ast.Lambda or kind in _COMPREHENSION_KINDS:
            continue
        if kind is ast.Import or kind is ast.ImportFrom:
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name.partition(".")[0])
            continue
        if kind is ast.Global:
            declared_global.update(node.names)
            continue
        if kind is ast.Nonlocal:
            names.update(node.names)
            continue
        bound = getattr(node, "name", None) if kind in _NAMED_BINDERS else None
        if isinstance(bound, str):
            names.add(bound)
        rest = getattr(node, "rest", None) if kind is ast.MatchMapping else None
        if isinstance(rest, str):
            names.add(rest)
        stack.extend(ast.iter_child_nodes(node))
    return frozenset(names - declared_global)


_COMPREHENSION_KINDS = frozenset({ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp})
_NAMED_BINDERS = frozenset({ast.ExceptHandler, ast.MatchAs, ast.MatchStar})


def _is_false(node: ast.expr) -> bool:
    return type(node) is ast.Constant and node.value in (False, None)


def _is_namespace(node: ast.expr) -> bool:
    """``vars(...)``, ``globals()``, ``locals()`` or ``x.__dict__``."""
    if type(node) is ast.Attribute:
        return node.attr == "__dict__"
    if type(node) is ast.Call and type(node.func) is ast.Name:
        return node.func.id in ("vars", "globals", "locals")
    return False


def _keyword(node: ast.Call, *names: str) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg in names:
            return keyword.value
    return None


def _dotted(node: ast.expr) -> str:
    """The source spelling of a name or attribute chain (``?`` for other parts)."""
    parts = []
    while type(node) is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if type(node) is ast.Name else "(…)")
    return ".".join(reversed(parts))


def _one(names: frozenset[str]) -> str:
    return sorted(names)[0]


def _is_type_expression(text: str) -> bool:
    """Whether a string annotation is a plain type expression (names, subscripts, ``|``)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in ast.walk(tree):
        if not isinstance(node, _TYPE_EXPRESSION_NODES):
            return False
        if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.BitOr):
            return False
    return True
