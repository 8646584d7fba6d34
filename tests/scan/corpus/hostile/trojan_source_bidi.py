# expect: PE601
"""Bidirectional overrides make the code display in another order than it runs."""


def main(backend, user_messenger, access_level="user", **kwargs):
    if access_level != "none‮⁦": # Check if admin⁩⁦" and access_level != "user
        return "admin"
    return "user"
