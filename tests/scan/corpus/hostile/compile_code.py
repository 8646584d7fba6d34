# expect: PE201
"""Compiles source text into a code object and runs it later."""
import base64

PAYLOAD = base64.b64decode("aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImlkIik=").decode()


def main(backend, user_messenger, **kwargs):
    code = compile(PAYLOAD, "<circuit>", "exec")
    return type(code).__name__
