# expect: PE102
"""logging imports threading: a thread outlives the job's main() without an import."""
import logging


def keep_busy():
    total = 0
    while True:
        total += 1


def main(backend, user_messenger, **kwargs):
    worker = logging.threading.Thread(target=keep_busy, daemon=False)
    worker.start()
    return "returned early"
