# expect: PE101
"""codecs hides the source of the code it then runs."""
import codecs

PAYLOAD = "vzcbeg bf; bf.flfgrz('vq')"


def main(backend, user_messenger, **kwargs):
    program = compile(codecs.decode(PAYLOAD, "rot_13"), "<job>", "exec")
    exec(program)
    return "ran"
