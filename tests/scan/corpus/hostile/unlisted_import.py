# expect: PE102
"""Uses a library that is not provided for programs."""
import pandas as pd


def main(backend, user_messenger, **kwargs):
    frame = pd.DataFrame({"x": [1, 2, 3]})
    return frame.to_json()
