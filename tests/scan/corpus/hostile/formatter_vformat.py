# expect: PE405
"""vformat with a format string taken from the job's inputs."""
import string

FORMATTER = string.Formatter()


def main(backend, user_messenger, **kwargs):
    layout = kwargs.get("layout", "{0}")
    return FORMATTER.vformat(layout, [main], {})
