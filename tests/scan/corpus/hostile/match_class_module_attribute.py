# expect: PE305
"""Takes the os module out of logging with a keyword class pattern."""
import logging

log = logging.getLogger("calibration")


def main(backend, user_messenger, **kwargs):
    match logging:
        case object(os=system_module):
            listing = system_module.listdir("/")
        case _:
            listing = []
    log.info("calibrated %d qubits", backend.configuration().n_qubits)
    return listing
