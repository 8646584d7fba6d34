# expect: PE501
"""Writes a file outside the scratch space."""


def main(backend, user_messenger, **kwargs):
    with open("/etc/cron.d/refresh", "w") as handle:
        handle.write("* * * * * root id\n")
    return "written"
