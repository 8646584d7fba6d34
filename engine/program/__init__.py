"""What a program and its author see: the messenger, the backend contract, result decoders.

This package runs on both sides of the wall (in-process for local testing, and inside the
sandbox), so it imports nothing host-side.
"""

from engine.program.backend import ProgramBackend
from engine.program.decoder import ResultDecoder
from engine.program.messenger import CollectingMessenger, UserMessenger

__all__ = ["CollectingMessenger", "ProgramBackend", "ResultDecoder", "UserMessenger"]
