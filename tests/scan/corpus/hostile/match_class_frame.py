# expect: PE303
"""A class pattern on a running generator climbs to the caller's frame."""


def sweep(points):
    for point in points:
        yield point * 0.5


def main(backend, user_messenger, **kwargs):
    values = sweep(range(4))
    next(values)
    match values:
        case object(gi_frame=object(f_back=caller)):
            user_messenger.publish({"caller": repr(caller)})
    return list(values)
