# expect: PE406
"""The mode of open() comes from a mapping filled at run time."""


def main(backend, user_messenger, **kwargs):
    options = {}
    options[kwargs.get("key", "mode")] = kwargs.get("value", "w")
    with open("/tmp/result.txt", **options) as handle:
        handle.write("done")
    return "written"
