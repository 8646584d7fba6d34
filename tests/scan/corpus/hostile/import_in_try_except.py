# expect: PE101
"""Hides a socket import behind a conditional and an ImportError fallback."""
try:
    if True:
        import socket
except ImportError:
    socket = None


def main(backend, user_messenger, **kwargs):
    connection = socket.create_connection(("198.51.100.7", 4444))
    connection.sendall(b"hello")
    return "sent"
