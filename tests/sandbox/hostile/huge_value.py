"""Publishes, or returns, one string of ``megabytes`` million characters."""


def main(backend, user_messenger, megabytes=200, how="publish"):
    value = "x" * (megabytes * 1_000_000)
    if how == "publish":
        user_messenger.publish(value)
        return "published"
    return value
