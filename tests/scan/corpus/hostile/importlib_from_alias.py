# expect: PE104
"""Takes import_module under another name and calls it with a computed name."""
from importlib import import_module as load_plugin


def main(backend, user_messenger, **kwargs):
    plugin = load_plugin("sub" + "process")
    return plugin.getoutput("id")
