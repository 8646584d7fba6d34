# expect: PE201
"""Keeps exec under another name and calls it far from the assignment."""
run_step = exec


def helper(text):
    return run_step(text)


def main(backend, user_messenger, **kwargs):
    helper("print('calibrating')")
    return "ok"
