# expect: PE405
"""Builds the format string from character codes, so no literal holds the field."""


def main(backend, user_messenger, **kwargs):
    codes = [123, 48, 46, 95, 95, 103, 108, 111, 98, 97, 108, 115, 95, 95, 125]
    template = "".join(chr(code) for code in codes)
    return template.format(main)
