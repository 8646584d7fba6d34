# expect: PE105
"""Decodes rot13 source with the codecs module that json imported, then runs it."""
import json

SOURCE = "erghea_inyhr = fhz(enatr(10))"


def main(backend, user_messenger, **kwargs):
    text = json.codecs.decode(SOURCE, "rot13")
    scope = {}
    exec(text, scope)
    return scope.get("return_value")
