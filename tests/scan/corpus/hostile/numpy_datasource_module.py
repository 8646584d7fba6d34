# expect: PE101
"""numpy.lib._datasource.open writes where it is told."""
from numpy.lib import _datasource


def main(backend, user_messenger, **kwargs):
    with _datasource.open("/etc/cron.d/job", "w") as handle:
        handle.write("* * * * * root id\n")
    return "scheduled"
