# expect: PE105
"""Renames subprocess so that its calls look like something else."""
import subprocess as transpiler


def main(backend, user_messenger, **kwargs):
    return transpiler.run(["uname", "-a"], capture_output=True).stdout
