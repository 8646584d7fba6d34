"""The engine's own pass over the syntax tree, driven by the scan policy.

One iterative walk (no recursion, so hostile nesting cannot exhaust the stack) collects
imports, name bindings, calls and attribute chains; a short resolution step then follows
aliases (``e = exec``, ``import os as o``, ``from os import system as s``, ``g = getattr``)
flow-insensitively and judges every use. Resolution is deliberately conservative: a
binding that *might* not run never hides a builtin, except a function's own locals, which
always shadow.

Names are followed through the policy's attribute map too (``logging.os`` is ``os``), and
Python that reads attributes without an attribute node is read as such: class patterns in
``match`` (``case object(__globals__=g)``), mapping patterns (``case {"os": m}``) and the
fields of format strings (``"{0.__globals__}"``).

The rules are catalogued in ``rules.py``; this module decides where they apply.
"""

from __future__ import annotations

import ast
import builtins
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from engine.scan.findings import Finding, Level
from engine.scan.format_fields import Step, field_steps, format_steps, may_have_steps
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
# functions that write to a file only when one of these keywords names it
_KEYWORD_WRITERS = {"logging.basicConfig": ("filename",)}
# canonical name -> index of the positional argument that is allow_pickle
_UNPICKLERS = {
    "numpy.load": 2,
    "numpy.lib.format.read_array": 1,
    "numpy.lib.npyio.NpzFile": 2,
}
# Formatters whose format string reads fields when the style is "{":
# canonical name -> (keyword of the format string, its position, position of the style)
_FORMAT_TAKERS = {
    "logging.Formatter": ("fmt", 0, 2),
    "logging.StrFormatStyle": ("fmt", 0, None),
    "logging.basicConfig": ("format", None, None),
}
# Methods that read fields of a format string; for vformat and get_field (string.Formatter)
# and str.format(fmt, ...) the format string is the first argument, else the receiver.
_FORMAT_METHODS = frozenset({"format", "format_map", "vformat", "get_field"})
# attribute names the walk notes for the resolution step
_NOTED_ATTRIBUTES = _FORMAT_METHODS | {"__dict__", "modules"}
_ALIAS_CALLS = {
    "builtins.breakpoint": "PE502",
    "builtins.input": "PE503",
    "builtins.globals": "PE402",
    "builtins.locals": "PE402",
}
# Calls whose arguments some rule reads: unpacked arguments hide them (PE406).
_CHECKED_CALLS = frozenset(
    {*_DYNAMIC_IMPORT, *_REFLECTION, *_OPENERS, *_WRITERS, *_KEYWORD_WRITERS, *_UNPICKLERS}
)
# Every canonical name some rule judges when it is called: the attribute map keeps the
# attributes of allowed modules that are these, under whatever name.
JUDGED_CALLS = frozenset(
    {
        *_DYNAMIC_CODE,
        *_CHECKED_CALLS,
        *_ALIAS_CALLS,
        *_FORMAT_TAKERS,
        *CODE_OBJECT_NAMES,
        *(f"builtins.{name}" for name in (*NAME_RULES, *CHECKED_BUILTINS)),
        "string.Formatter",
    }
)

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
    alias_values: set[int] = field(default_factory=set)  # right-hand sides of x = a.b
    docstrings: set[int] = field(default_factory=set)
    denied_roots: set[str] = field(default_factory=set)
    # how often each name is assigned or deleted, and names bound in other ways (arguments,
    # definitions, handlers, patterns): a name is a literal only if every binding is one
    stores: dict[str, int] = field(default_factory=dict)
    other_binders: set[str] = field(default_factory=set)
    # uses of format-reading methods: the attribute, and its call (None if taken as a value)
    format_refs: list[tuple[ast.Attribute, ast.Call | None]] = field(default_factory=list)


class AstPass:
    """The ast rules of one policy. It keeps no state between files, so one instance may
    review many files, from several threads."""

    def __init__(self, policy: ScanPolicy) -> None:
        self.policy = policy
        names = policy.names
        self.escape_attributes = frozenset(names.escape_attributes)
        self.frame_attributes = frozenset(names.frame_attributes)
        self.module_attributes = frozenset(names.module_attributes)
        self.judged_attributes = (
            self.escape_attributes | self.frame_attributes | self.module_attributes
        )
        dunders = sorted(
            (name for name in self.escape_attributes if name.startswith("__")), key=len
        )
        self.escape_string_re = re.compile("|".join(map(re.escape, reversed(dunders))) or "(?!)")
        self.disabled = policy.disabled_rules
        self.scratch = tuple(policy.scratch_dirs)
        self.attributes = policy.attributes
        self.star_allow = frozenset(policy.imports.star_allow)

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
        self.followed: dict[str, str] = {}
        self.reached: dict[str, str] = {}  # a name the map led to -> the name written
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
            ast.ClassDef: self._binder,
            ast.ExceptHandler: self._binder,
            ast.MatchAs: self._binder,
            ast.MatchStar: self._binder,
            ast.arg: self._argument,
            ast.Match: self._match,
            ast.MatchClass: self._match_class,
            ast.MatchMapping: self._match_mapping,
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
        if not isinstance(value, str):
            self.data.alias_values.add(id(value))

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
                if module not in self.rules.star_allow:
                    self.report(
                        "PE106",
                        node,
                        f"from {'.' * node.level}{node.module or ''} import * brings in names "
                        "the review cannot follow (star imports: policy imports.star_allow)",
                    )
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
        canonical = self._follow(dotted)
        if canonical in CODE_OBJECT_NAMES:
            self.report("PE202", node, f"imports {dotted}, which builds functions from bytecode")
            return
        status = self.policy.import_status(canonical)
        if status == "allow":
            return
        that = "" if canonical == dotted else f" (that is {canonical})"
        if status == "deny":
            entry = self.policy.denied_entry(canonical)
            if not that:
                self.data.denied_roots.add(dotted.partition(".")[0])
            self.report(
                "PE101",
                node,
                f"import of {dotted!r}{that}, denied by the policy (entry {entry!r})",
            )
            return
        if not that and self.source.is_local(dotted):
            return  # another file of the same upload, reviewed in its own right
        self.report(
            "PE102",
            node,
            f"import of {(shown if not that and shown else dotted)!r}{that}, which is not on "
            "the policy's allow list",
            severity=self.policy.imports.unlisted_severity,
        )

    def _name(self, node: ast.Name, scopes: tuple) -> None:
        if type(node.ctx) is not ast.Load:
            stores = self.data.stores
            stores[node.id] = stores.get(node.id, 0) + 1
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
        if attr in self.rules.judged_attributes:
            self._judge_attribute(node, attr, "attribute")
        elif attr in _NOTED_ATTRIBUTES:
            if attr == "__dict__":
                self.data.dict_refs.append(node)
            elif attr == "modules" and _last_name(node.value) in ("sys", "_sys"):
                self.report("PE306", node, f"{_dotted(node)} hands out every loaded module")
            elif attr in _FORMAT_METHODS and id(node) not in self.data.call_funcs:
                self.data.format_refs.append((node, None))
        data = self.data
        data.attr_values.add(id(node.value))
        if id(node) not in data.attr_values and type(node.ctx) is ast.Load:
            data.chain_heads.append(node)

    def _judge_attribute(self, node: ast.AST, attr: str, what: str) -> bool:
        """Judge reading the attribute ``attr`` (``what`` says how it is read); whether a
        rule fired."""
        rules = self.rules
        if attr in rules.escape_attributes:
            self.report("PE301", node, f"{what} {attr} leads to the interpreter's internals")
        elif attr in rules.frame_attributes:
            self.report("PE303", node, f"{what} {attr} walks frames or tracebacks")
        elif attr in rules.module_attributes:
            self.report("PE305", node, f"{what} {attr!r} reaches the module {attr} through another")
        else:
            return False
        return True

    def _judge_key(self, node: ast.AST, key: str, what: str) -> None:
        """Judge reading the item ``key`` of a mapping (a namespace, sys.modules)."""
        if key in self.rules.module_attributes:
            self.report("PE305", node, f"{what} {key!r} reaches the module {key}")

    def _judge_steps(self, node: ast.AST, steps: Iterable[Step]) -> None:
        for is_attribute, name in steps:
            if is_attribute:
                self._judge_attribute(node, name, "format field attribute")
            else:
                self._judge_key(node, name, "format field key")

    def _call(self, node: ast.Call, scopes: tuple) -> None:
        data = self.data
        data.calls.append((node, scopes))
        data.call_funcs.add(id(node.func))
        func = node.func
        if type(func) is ast.Attribute and func.attr in _FORMAT_METHODS:
            data.format_refs.append((func, node))
        if not node.keywords:
            return
        for name, value in _keywords(node):
            if name == "allow_pickle" and not _is_false(value):
                self.report(
                    "PE203", value, "allow_pickle lets this call unpickle arbitrary objects"
                )
        for keyword in node.keywords:
            value = keyword.value
            computed = type(value) is ast.Dict and _literal_keywords(value) is None
            if keyword.arg is None and computed:
                self.report(
                    "PE406", value, "keyword arguments whose names are computed at run time (**{…})"
                )

    def _assign(self, node: ast.Assign, scopes: tuple) -> None:
        for target in node.targets:
            self._bind_target(target, node.value)
            if type(target) is ast.Name and target.id == "__match_args__":
                self._match_args(node.value)

    def _match_args(self, value: ast.expr) -> None:
        """``__match_args__`` names the attributes positional class patterns read."""
        if type(value) is ast.Tuple or type(value) is ast.List:
            for item in value.elts:
                if type(item) is ast.Constant and isinstance(item.value, str):
                    self._judge_attribute(item, item.value, "__match_args__ attribute")

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
            if (
                value_kind is ast.Name
                or value_kind is ast.Attribute
                or (value_kind is ast.Call and _getattr_literal(value) is not None)
            ):
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
        if type(value) is not str or id(node) in self.data.docstrings:
            return
        if "{" in value and may_have_steps(value):  # any string may end up formatting
            self._judge_steps(node, format_steps(value))
        if "_" not in value:
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

    def _binder(self, node: ast.AST, scopes: tuple) -> None:
        name = getattr(node, "name", None)
        if isinstance(name, str):
            self.data.other_binders.add(name)

    def _argument(self, node: ast.arg, scopes: tuple) -> None:
        self.data.other_binders.add(node.arg)

    def _match(self, node: ast.Match, scopes: tuple) -> None:
        subject = node.subject
        if not _is_namespace(subject) and not _is_sys_modules(subject):
            return
        for case in node.cases:
            for pattern in ast.walk(case.pattern):
                if type(pattern) is ast.MatchMapping and any(
                    type(key) is not ast.Constant for key in pattern.keys
                ):
                    self.report(
                        "PE401", pattern, "a namespace is matched with a key computed at run time"
                    )

    def _match_class(self, node: ast.MatchClass, scopes: tuple) -> None:
        for attr in node.kwd_attrs:
            self._judge_attribute(node, attr, "class pattern attribute")

    def _match_mapping(self, node: ast.MatchMapping, scopes: tuple) -> None:
        if node.rest is not None:
            self.data.other_binders.add(node.rest)
        for key in node.keys:
            if type(key) is ast.Constant and isinstance(key.value, str):
                self._judge_key(key, key.value, "mapping pattern key")

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scopes: tuple) -> None:
        self.data.other_binders.add(node.name)
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
            while True:
                if type(root) is ast.Attribute:
                    root = root.value
                    continue
                inner = _getattr_literal(root)
                if inner is None:
                    break
                root = inner[0]
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
        for attribute, call in data.format_refs:
            self._judge_format_method(attribute, call)

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
            if canonical == "sys.modules" or canonical.startswith("sys.modules."):
                self.report("PE306", node, f"{written} is sys.modules, every loaded module")
            if canonical.startswith("builtins."):
                continue  # builtins are judged by name, and importing builtins is PE101
            if canonical in CODE_OBJECT_NAMES:
                self.report("PE202", node, f"{written} is {canonical}, which builds functions")
                continue
            if (
                canonical in _CHECKED_CALLS
                and id(node) not in self.data.call_funcs
                and id(node) not in self.data.alias_values  # aliases are followed to calls
            ):
                shown = written if written == canonical else f"{written} ({canonical})"
                self.report(
                    "PE404", node, f"{shown} is taken as a value, so its calls cannot be checked"
                )
            inside = _inside_checked(canonical)
            if inside is not None:
                self.report(
                    "PE404",
                    node,
                    f"{written} reaches inside {inside}, whose calls are checked only as a whole",
                )
            entry = self.policy.denied_entry(canonical)
            if entry is None:
                if canonical in self.reached and self.policy.import_status(canonical) != "allow":
                    self.report(
                        "PE102",
                        node,
                        f"{written} (that is {canonical}) reaches a module that is not on the "
                        "policy's allow list",
                        severity=self.policy.imports.unlisted_severity,
                    )
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
                path_node = node.args[0] if node.args else _keyword(node, *_PATH_KEYWORDS)
                self._judge_writer(node, canonical, path_node, Level.LOW)
            elif canonical in _ALIAS_CALLS and not direct:
                rule = _ALIAS_CALLS[canonical]
                short = canonical.partition(".")[2]
                self.report(rule, node, f"{written} is {short}(){via}")
            if canonical in _KEYWORD_WRITERS:
                path_node = _keyword(node, *_KEYWORD_WRITERS[canonical])
                if path_node is not None:
                    self._judge_writer(node, canonical, path_node, Level.MEDIUM)
            if canonical in _UNPICKLERS:
                self._judge_unpickler(node, canonical, via)
            if canonical in _FORMAT_TAKERS:
                self._judge_format_taker(node, canonical, via)
            if canonical in _CHECKED_CALLS:
                self._judge_unpacking(node, canonical, via)

    def _judge_unpacking(self, node: ast.Call, canonical: str, via: str) -> None:
        """Arguments of a checked call must be readable: no ``*args``, and ``**`` only of a
        literal dict with constant keys (whose items are judged as keywords)."""
        short = canonical.rpartition(".")[2]
        args = node.args
        if canonical in _WRITERS and args and type(args[0]) is not ast.Starred:
            return  # the target is written out; the rest names arrays (np.savez(p, **arrays))
        if canonical not in _REFLECTION and any(type(arg) is ast.Starred for arg in args):
            self.report("PE406", node, f"{short}(){via} with positional arguments unpacked (*…)")
        for keyword in node.keywords:
            if keyword.arg is None and _literal_keywords(keyword.value) is None:
                self.report(
                    "PE406",
                    node,
                    f"{short}(){via} with keyword arguments unpacked from a mapping the review "
                    "cannot read (**…)",
                )

    def _judge_unpickler(self, node: ast.Call, canonical: str, via: str) -> None:
        position = _UNPICKLERS[canonical]
        if len(node.args) > position and not any(
            type(arg) is ast.Starred for arg in node.args[: position + 1]
        ):
            flag = node.args[position]
            if not _is_false(flag):
                short = canonical.rpartition(".")[2]
                self.report(
                    "PE203",
                    flag,
                    f"{short}(){via} gets allow_pickle as argument {position + 1}, which lets "
                    "it unpickle arbitrary objects",
                )

    def _judge_format_taker(self, node: ast.Call, canonical: str, via: str) -> None:
        """A ``{``-style logging format reads fields like str.format."""
        keyword, position, style_position = _FORMAT_TAKERS[canonical]
        style = _keyword(node, "style")
        if style is None and style_position is not None and len(node.args) > style_position:
            style = node.args[style_position]
        if style is None or (type(style) is ast.Constant and style.value != "{"):
            return  # the default "%" style and "$" read no attributes
        fmt = _keyword(node, keyword)
        if fmt is None and position is not None and len(node.args) > position:
            fmt = node.args[position]
        if fmt is None:
            return
        short = canonical.rpartition(".")[2]
        self._judge_format_string(node, fmt, f"{short}(){via}", field=False)

    def _judge_format_method(self, attribute: ast.Attribute, call: ast.Call | None) -> None:
        """``x.format(...)``, ``format_map``, ``vformat`` and ``get_field``: the format
        string must be a literal, whose fields are then judged."""
        method, receiver = attribute.attr, attribute.value
        written = f"{_dotted(attribute)}()"
        if call is None:
            imported = self._imported(receiver)
            if imported and not any(self.source.is_local(name) for name in imported):
                return  # an attribute of an allowed module (numpy.lib.format), not a method
        first_argument = method in ("vformat", "get_field") or (
            self._resolve(receiver) == {"builtins.str"}
        )
        if not first_argument and _is_formatter(receiver, self._resolve):
            first_argument = True
        if call is None:
            if first_argument or not self._literal_texts(receiver):
                self.report(
                    "PE405",
                    attribute,
                    f"{_dotted(attribute)} is taken as a value, so the format strings it will "
                    "read cannot be checked",
                )
            return
        if first_argument:
            fmt = call.args[0] if call.args else _keyword(call, "format_string", "field_name")
        else:
            if not call.args and not call.keywords:
                return  # no arguments: the fields have nothing to read
            fmt = receiver
        if fmt is None or type(fmt) is ast.Starred:
            self.report("PE405", call, f"{written}: the format string is not a literal")
            return
        self._judge_format_string(call, fmt, written, field=method == "get_field")

    def _judge_format_string(self, node: ast.AST, fmt: ast.expr, written: str, field: bool) -> None:
        texts = self._literal_texts(fmt)
        if texts is None:
            what = "field name" if field else "format string"
            self.report(
                "PE405",
                node,
                f"{written}: the {what} is computed at run time, so the attributes it reads "
                "cannot be checked",
            )
            return
        if type(fmt) is ast.Constant and not field:
            return  # a literal string's fields are judged where it is written
        for text in texts:
            self._judge_steps(node, field_steps(text) if field else format_steps(text))

    def _literal_texts(self, node: ast.expr, depth: int = 0) -> list[str] | None:
        """The strings ``node`` may be if it is built from literals only (constants, names
        bound only to constants, ``+``, ``%`` of constants, conditionals); else None."""
        if depth > _MAX_RESOLVE_DEPTH:
            return None
        kind = type(node)
        if kind is ast.Constant:
            return [node.value] if isinstance(node.value, str) else None
        if kind is ast.Name:
            return self._literal_name(node.id)
        if kind is ast.IfExp:
            body = self._literal_texts(node.body, depth + 1)
            orelse = self._literal_texts(node.orelse, depth + 1) if body is not None else None
            return None if orelse is None else _bounded(body + orelse)
        if kind is ast.BinOp and type(node.op) in (ast.Add, ast.Mod):
            left = self._literal_texts(node.left, depth + 1)
            if left is None:
                return None
            modulo = type(node.op) is ast.Mod
            right = _constant_operands(node.right) if modulo else None
            if right is None:
                right_texts = self._literal_texts(node.right, depth + 1)
                if right_texts is None:
                    return None
                right = [(text,) for text in right_texts]
            combined = []
            limit = self.policy.limits.max_bytes
            for one in left:
                for other in right:
                    try:
                        text = one % other if modulo else one + other[0]
                    except (TypeError, ValueError, OverflowError):
                        return None
                    if len(text) > limit:
                        return None
                    combined.append(text)
            return _bounded(combined)
        return None

    def _literal_name(self, name: str) -> list[str] | None:
        """The values of a name whose every binding assigns a string constant."""
        data = self.data
        values = data.string_values.get(name)
        if (
            not values
            or name in data.aliases
            or name in data.other_binders
            or data.stores.get(name, 0) != len(values)
        ):
            return None
        return values

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
        # getattr, setattr and delattr take the object first; the operator ones take none
        obj = args[0] if args and canonical.startswith("builtins.") else None
        for argument in names:
            if type(argument) is not ast.Constant or not isinstance(argument.value, str):
                self.report(
                    "PE401", node, f"{short}(){via} with an attribute name computed at run time"
                )
                continue
            for attr in argument.value.split("."):
                self._judge_attribute_name(node, short, attr, obj, via)
        if short == "getattr" and _getattr_literal(node) is not None:
            self._judge_reference(node)  # getattr(random, "_os") is random._os

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
        elif attr in _FORMAT_METHODS and (obj is None or not self._literal_texts(obj)):
            self.report(
                "PE405", node, f"{short}(){via} reaches {attr} of a string the review cannot read"
            )

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

    def _judge_writer(
        self, node: ast.Call, canonical: str, path_node: ast.expr | None, unknown: Level
    ) -> None:
        """A call that writes to ``path_node``; ``unknown`` is the severity when the target
        is computed (low when it may be a buffer, medium when it is always a path)."""
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
            what = "a path or a buffer" if unknown is Level.LOW else "a path"
            self.report(
                "PE501",
                node,
                f"{canonical}() writes to a target computed at run time ({what})",
                severity=unknown,
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
            obj, attr = node.value, node.attr
            if attr == "__call__":
                return self._resolve(obj, depth)  # f.__call__(...) is f(...)
        elif kind is ast.Call and (found := _getattr_literal(node)) is not None:
            if "getattr" in self.data.aliases:
                return frozenset()  # getattr itself is rebound
            obj, attr = found
        else:
            return frozenset()
        bases = self._resolve(obj, depth)  # nesting is bounded by the tree's depth limit
        names = set()
        reached = self.reached
        for base in bases:
            dotted = f"{base}.{attr}"
            if base.startswith("builtins."):
                names.add(dotted)
                continue
            followed = self._follow(dotted)
            if base in reached and followed not in reached:
                reached[followed] = f"{reached[base]}.{attr}"  # what the map led to, and on
            names.add(followed)
        return frozenset(names)

    def _follow(self, dotted: str) -> str:
        """``dotted`` after the policy's attribute map (``logging.os`` -> ``os``)."""
        followed = self.followed.get(dotted)
        if followed is None:
            followed = self.followed[dotted] = self.rules.attributes.follow(dotted)
            if followed != dotted:
                self.reached.setdefault(followed, dotted)
        return followed

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
                found.add(self._follow(entry))
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
        return self._resolve(func)

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
    for name, value in _keywords(node):
        if name in names:
            return value
    return None


def _keywords(node: ast.Call) -> Iterator[tuple[str, ast.expr]]:
    """The keyword arguments of a call, those of ``**{"literal": ...}`` included."""
    for keyword in node.keywords:
        if keyword.arg is not None:
            yield keyword.arg, keyword.value
        else:
            yield from _literal_keywords(keyword.value) or ()


def _literal_keywords(node: ast.expr) -> list[tuple[str, ast.expr]] | None:
    """The items of ``{"a": x}`` or ``dict(a=x)`` when every key is a constant string;
    None for any other mapping (computed keys, ``{**m}``, a variable)."""
    if type(node) is ast.Dict:
        pairs = []
        for key, value in zip(node.keys, node.values, strict=True):
            if type(key) is not ast.Constant or not isinstance(key.value, str):
                return None
            pairs.append((key.value, value))
        return pairs
    if (
        type(node) is ast.Call
        and type(node.func) is ast.Name
        and node.func.id == "dict"
        and not node.args
        and all(keyword.arg is not None for keyword in node.keywords)
    ):
        return [(keyword.arg, keyword.value) for keyword in node.keywords if keyword.arg]
    return None


def _getattr_literal(node: ast.expr) -> tuple[ast.expr, str] | None:
    """``(obj, "name")`` for ``getattr(obj, "name"[, default])``, which is ``obj.name``."""
    if type(node) is not ast.Call or type(node.func) is not ast.Name or node.func.id != "getattr":
        return None
    args = node.args
    if len(args) not in (2, 3) or node.keywords or type(args[0]) is ast.Starred:
        return None
    name = args[1]
    if type(name) is not ast.Constant or not isinstance(name.value, str):
        return None
    return args[0], name.value


# Attributes of a function that say what it is, not how to call around it.
_DESCRIPTIVE_ATTRIBUTES = frozenset({"__name__", "__qualname__", "__module__", "__doc__"})


def _inside_checked(canonical: str) -> str | None:
    """The checked callable ``canonical`` is an attribute of (``numpy.save._implementation``
    is inside ``numpy.save``), unless the attribute only describes it."""
    cut = canonical.rfind(".")
    while cut > 0:
        owner = canonical[:cut]
        if owner in _CHECKED_CALLS:
            rest = canonical[cut + 1 :]
            return None if rest in _DESCRIPTIVE_ATTRIBUTES else owner
        cut = canonical.rfind(".", 0, cut)
    return None


def _last_name(node: ast.expr) -> str | None:
    """``sys`` for ``sys`` and for ``logging.sys``."""
    if type(node) is ast.Name:
        return node.id
    if type(node) is ast.Attribute:
        return node.attr
    return None


def _is_sys_modules(node: ast.expr) -> bool:
    return (
        type(node) is ast.Attribute
        and node.attr == "modules"
        and _last_name(node.value) in ("sys", "_sys")
    )


def _is_formatter(node: ast.expr, resolve) -> bool:
    """``string.Formatter()`` (or a subclass's instance written the same way)."""
    return type(node) is ast.Call and "string.Formatter" in resolve(node.func)


def _constant_operands(node: ast.expr) -> list[tuple[object, ...]] | None:
    """The right operand of ``"..." % x`` when it is constants: one tuple of values."""
    if type(node) is ast.Constant and isinstance(node.value, str | int | float):
        return [(node.value,)]
    if type(node) is ast.Tuple and all(
        type(item) is ast.Constant and isinstance(item.value, str | int | float)
        for item in node.elts
    ):
        return [tuple(item.value for item in node.elts)]
    return None


_MAX_LITERAL_TEXTS = 16


def _bounded(texts: list[str]) -> list[str] | None:
    """At most a few alternatives are followed; more count as computed."""
    return texts if len(texts) <= _MAX_LITERAL_TEXTS else None


def _dotted(node: ast.expr) -> str:
    """The source spelling of a name or attribute chain (``?`` for other parts)."""
    parts = []
    while True:
        if type(node) is ast.Attribute:
            parts.append(node.attr)
            node = node.value
            continue
        found = _getattr_literal(node)
        if found is None:
            break
        parts.append(found[1])
        node = found[0]
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
