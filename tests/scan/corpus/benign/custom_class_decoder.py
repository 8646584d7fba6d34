"""The original service's custom-class example as a program: inputs and results that are
instances of a class with ``to_json``/``from_json``, and a decoder for the program's users."""

import json

from qiskit.providers.ibmq.runtime import ResultDecoder


class MyCustomClass:
    def __init__(self, foo, bar):
        self._foo = foo
        self._bar = bar

    def to_json(self):
        """Convert this instance to a JSON string."""
        return json.dumps({"foo": self._foo, "bar": self._bar})

    @classmethod
    def from_json(cls, json_str):
        """Return a MyCustomClass instance based on the input JSON string."""
        return cls(**json.loads(json_str))

    def __repr__(self):
        return f"MyCustomClass(foo={self._foo!r}, bar={self._bar!r})"


class MyResultDecoder(ResultDecoder):
    @classmethod
    def decode(cls, data):
        data = super().decode(data)  # Perform any preprocessing.
        return MyCustomClass.from_json(data)


def main(backend, user_messenger, **kwargs):
    """Main entry point of the program."""
    my_obj_str = kwargs.pop("my_obj")
    my_obj = MyCustomClass.from_json(my_obj_str)
    user_messenger.publish(my_obj)
    return MyCustomClass("this foo", "that bar")
