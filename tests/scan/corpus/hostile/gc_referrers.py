# expect: PE101
"""The garbage collector hands out every object in the interpreter."""
import gc


def main(backend, user_messenger, **kwargs):
    return len(gc.get_objects())
