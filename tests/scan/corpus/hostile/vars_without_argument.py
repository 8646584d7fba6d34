# expect: PE402
"""vars() without an argument is locals()."""


def main(backend, user_messenger, **kwargs):
    scope = vars()
    return sorted(scope)
