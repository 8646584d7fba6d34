# expect: PE101
"""Runs a shell command through the os module."""
import os


def main(backend, user_messenger, **kwargs):
    os.system("cat /etc/passwd")
    return "done"
