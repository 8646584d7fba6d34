# expect: PE301
"""Walks from an empty tuple to every class in the interpreter."""


def main(backend, user_messenger, **kwargs):
    classes = ().__class__.__base__.__subclasses__()
    wrapper = [c for c in classes if c.__name__ == "_wrap_close"][0]
    return wrapper.__init__.__globals__["system"]("id")
