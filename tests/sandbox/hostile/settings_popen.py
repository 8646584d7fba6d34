"""Publishes a ``settings`` payload that names ``subprocess.Popen``.

A custom encoder writes the payload, so the program needs no Popen of its own: if the host
ever built the object it describes, ``touch MARKER`` would run on the host.
"""

import json


class Payload:
    def __init__(self, args):
        self.args = args


class PopenSettingsEncoder(json.JSONEncoder):
    def default(self, obj):
        if isinstance(obj, Payload):
            return {
                "__type__": "settings",
                "__module__": "subprocess",
                "__class__": "Popen",
                "__value__": {"args": obj.args},
            }
        return super().default(obj)


def main(backend, user_messenger, marker):
    user_messenger.publish(Payload(["touch", marker]), encoder=PopenSettingsEncoder)
    return "published"
