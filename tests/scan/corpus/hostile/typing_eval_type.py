# expect: PE105
"""typing's private evaluator runs a forward reference built at run time."""
import typing


def main(backend, user_messenger, **kwargs):
    expression = "".join(reversed(kwargs.get("expr", ")1(tni")))
    hint = typing.Optional[expression]
    return str(typing._eval_type(hint, {}, {}))
