# expect: B324
"""Signs results with a broken hash."""
import hashlib


def main(backend, user_messenger, secret="", **kwargs):
    return hashlib.md5(secret.encode()).hexdigest()
