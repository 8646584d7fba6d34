# expect: PE602
"""Python normalizes identifiers (NFKC), so full-width letters spell exec."""


def main(backend, user_messenger, code="", **kwargs):
    ｅｘｅｃ(code)
    return "ok"
