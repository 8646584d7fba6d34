# expect: PE301
"""Swaps a function's code object so that a harmless name runs other code."""


def publish_counts(counts):
    return counts


def payload(counts):
    return sum(counts.values())


def main(backend, user_messenger, **kwargs):
    publish_counts.__code__ = payload.__code__
    return publish_counts({"0": 1})
