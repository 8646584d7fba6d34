# expect: PE405
"""operator.methodcaller calls format on a string the review never sees."""
import operator


def main(backend, user_messenger, **kwargs):
    render = operator.methodcaller("format", main)
    return render(kwargs.get("template", "{0}"))
