# expect: PE303
"""Walks an exception's traceback to the frames that raised it."""


def main(backend, user_messenger, **kwargs):
    try:
        raise ValueError("probe")
    except ValueError as error:
        frame = error.__traceback__.tb_frame
        return list(frame.f_globals)
