"""The catalogue of the engine's own review rules.

Every rule has a stable id (``PE`` + three digits, grouped by the hundreds: imports,
dynamic code, interpreter escapes, reflection, I/O, source tricks, limits, the review
itself), a short name, a default severity and confidence, a CWE where one fits, and a
one-line rationale that reports show next to each finding.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.scan.findings import Level

H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW


@dataclass(frozen=True, slots=True)
class Rule:
    """One engine rule; ``severity`` and ``confidence`` are defaults a finding may lower."""

    id: str
    name: str
    severity: Level
    confidence: Level
    cwe: int | None
    rationale: str


_CATALOGUE = (
    # --- imports -------------------------------------------------------------------------
    Rule("PE101", "import-denied", H, H, 676,
         "The module is on the policy's deny list: it reaches the OS, the network, the "
         "interpreter's machinery or serialized code."),
    Rule("PE102", "import-unlisted", M, H, 676,
         "Only modules on the policy's allow list are provided in the sandbox and reviewed "
         "as safe for programs."),
    Rule("PE103", "import-relative", H, H, 706,
         "A relative import that climbs out of the upload's own packages reaches the "
         "modules around it at run time, which are the engine's own."),
    Rule("PE104", "import-dynamic", H, H, 470,
         "__import__ and importlib with a computed name import modules the review cannot "
         "see."),
    Rule("PE105", "name-denied", H, H, 676,
         "A denied module or name is used through an alias or through an allowed "
         "module's attribute."),
    Rule("PE106", "import-star", H, H, 676,
         "A star import brings in names the review cannot follow (attrgetter, denied "
         "callables); only modules on the policy's star_allow list may be star-imported."),
    # --- dynamic code --------------------------------------------------------------------
    Rule("PE201", "dynamic-code", H, H, 95,
         "exec, eval and compile run code that is not in the reviewed source."),
    Rule("PE202", "code-object", H, H, 94,
         "Building CodeType or FunctionType objects makes functions from bytecode the "
         "review cannot read."),
    Rule("PE203", "unpickle", H, M, 502,
         "Loading with allow_pickle unpickles objects, and unpickling can call any "
         "function."),
    Rule("PE204", "annotation-code", H, M, 95,
         "A string annotation holding code runs when typing.get_type_hints or a "
         "dispatcher evaluates it."),
    # --- interpreter escapes -------------------------------------------------------------
    Rule("PE301", "escape-attribute", H, H, 693,
         "Attributes such as __subclasses__, __globals__ and __code__ lead from any object "
         "to the interpreter's internals."),
    Rule("PE302", "escape-name", H, H, 693,
         "__builtins__, __loader__ and __spec__ hand out the builtins and the import "
         "machinery."),
    Rule("PE303", "frame-walk", H, H, 693,
         "Frame and traceback attributes (f_back, f_globals, tb_frame, gi_frame, "
         "_getframe) reach other code's namespaces."),
    Rule("PE304", "module-dict", H, H, 693,
         "A module's __dict__ (or vars(module)) exposes everything it imported, beyond "
         "what the source names."),
    Rule("PE305", "module-attribute", H, M, 693,
         "An attribute named after a denied module (typing.sys) reaches that module "
         "through an allowed one."),
    Rule("PE306", "sys-modules", H, H, 693,
         "sys.modules holds every loaded module, denied ones included, past the import "
         "lists."),
    # --- reflection ----------------------------------------------------------------------
    Rule("PE401", "reflective-access", H, M, 470,
         "getattr, setattr, delattr or a namespace indexed with a computed name reach "
         "attributes the review cannot read."),
    Rule("PE402", "namespace-access", H, H, 470,
         "globals(), locals() and vars() without an argument hand out a namespace, "
         "__builtins__ included."),
    Rule("PE403", "escape-string", H, M, 693,
         "A string naming an interpreter internal (such as '__globals__') is how "
         "reflective escapes are spelled."),
    Rule("PE404", "builtin-alias", M, M, 470,
         "A reflective builtin (getattr, setattr, delattr, vars, open) taken as a value "
         "hides where and how it is called."),
    Rule("PE405", "format-computed", H, M, 134,
         "str.format, format_map, string.Formatter and {-style logging read the attributes "
         "and items a format string names ({0.__globals__}); a format string built at run "
         "time cannot be checked."),
    Rule("PE406", "unpacked-arguments", H, M, 470,
         "Keyword names computed at run time (**{name: value}), or arguments unpacked into "
         "a checked call (numpy.load, open, getattr), hide what the call is asked to do."),
    # --- I/O and interaction -------------------------------------------------------------
    Rule("PE501", "file-write", H, H, 73,
         "Programs may write only to their scratch space; any other path is the image or "
         "the host."),
    Rule("PE502", "debugger", H, H, 489,
         "breakpoint() starts a debugger that reads commands from stdin, the engine's "
         "protocol channel."),
    Rule("PE503", "stdin-read", H, H, 668,
         "input() reads stdin, which carries the engine's protocol, not a person."),
    # --- source tricks -------------------------------------------------------------------
    Rule("PE601", "bidi-control", H, H, 451,
         "Bidirectional control characters make code display in a different order than it "
         "runs (trojan source)."),
    Rule("PE602", "confusable-identifier", H, M, 1007,
         "An identifier that mixes scripts or looks like ASCII makes two different names "
         "look the same."),
    Rule("PE603", "nul-byte", H, H, 158,
         "NUL bytes are not source text; parsers and tools disagree on what follows them."),
    Rule("PE604", "coding-declaration", M, H, 172,
         "Only UTF-8 sources read the same to people, tools and the interpreter; another "
         "declared encoding changes what the bytes say."),
    Rule("PE605", "encoding-mismatch", H, H, 172,
         "The bytes decode differently (or not at all) under the declared encoding and "
         "under UTF-8, so what a reviewer sees is not what runs."),
    Rule("PE606", "control-character", H, H, 451,
         "Raw control characters (terminal escapes, backspaces) can hide code when the "
         "file is displayed."),
    # --- limits --------------------------------------------------------------------------
    Rule("PE701", "file-too-large", H, H, 400,
         "The file exceeds the policy's size limit; programs are small, and the review "
         "must stay bounded."),
    Rule("PE702", "line-too-long", H, H, 400,
         "A line exceeds the policy's length limit, a common way to push code out of "
         "sight."),
    Rule("PE703", "nesting-too-deep", H, H, 674,
         "The syntax tree is nested deeper than the policy allows, which exhausts "
         "recursive tools and hides structure."),
    Rule("PE704", "too-many-nodes", H, H, 400,
         "The syntax tree has more nodes than the policy allows."),
    Rule("PE705", "too-many-lines", H, H, 400,
         "The file has more lines than the policy allows."),
    # --- the review itself ---------------------------------------------------------------
    Rule("PE801", "syntax-error", H, H, None,
         "A file that does not parse cannot be reviewed, and would not run."),
    Rule("PE802", "review-incomplete", H, H, None,
         "Part of the review (bandit, or one of its tests) did not run on the file, so "
         "nothing may be assumed about it."),
)  # fmt: skip

RULES: dict[str, Rule] = {rule.id: rule for rule in _CATALOGUE}
