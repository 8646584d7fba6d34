# expect: PE301
"""Splits the field so that no single literal names __globals__."""


def objective(x):
    return x * x


def main(backend, user_messenger, **kwargs):
    return ("{0." + "__glo" + "bals__}").format(objective)
