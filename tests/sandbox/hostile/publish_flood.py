"""Publishes many small interim messages as fast as it can."""


def main(backend, user_messenger, count=2000):
    for index in range(count):
        user_messenger.publish({"index": index})
    return count
