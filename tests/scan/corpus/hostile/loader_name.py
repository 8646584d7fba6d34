# expect: PE302
"""Uses the module's loader to load other modules."""


def main(backend, user_messenger, **kwargs):
    return __loader__.load_module("posix").getcwd()
