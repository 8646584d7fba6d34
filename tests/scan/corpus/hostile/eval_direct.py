# expect: PE201
"""Evaluates an expression that arrives as an input."""


def main(backend, user_messenger, expression="1 + 1", **kwargs):
    return eval(expression)
