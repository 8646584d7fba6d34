# expect: PE306
"""sys.modules through warnings hands out any loaded module, subprocess included."""
import warnings


def main(backend, user_messenger, **kwargs):
    loaded = warnings.sys.modules
    runner = loaded.get("subprocess")
    return runner.run(["id"], capture_output=True).stdout if runner else None
