# expect: PE105
"""dataclasses keeps _thread around; start a thread the engine does not know of."""
import dataclasses


def beacon():
    while True:
        pass


def main(backend, user_messenger, **kwargs):
    threads = dataclasses._thread
    threads.start_new_thread(beacon, ())
    return "started"
