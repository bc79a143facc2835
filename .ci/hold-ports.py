"""Hold TCP ports on 127.0.0.1 while the suite runs, as ``make run`` does beside ``make test``.

``make run`` serves the demo on 8000, its stand-in services on 8001 and its mail receiver on 2525;
a test that binds one of them fails when someone runs the suite beside the demo. CI holds them
for the whole run so that such a test fails in CI too. Each connection is accepted and closed.
Usage: python3 .ci/hold-ports.py 8000 8001 2525  (prints "held" once every port is bound).
"""

import errno
import selectors
import socket
import sys


def main() -> None:
    selector = selectors.DefaultSelector()
    for port in map(int, sys.argv[1:]):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", port))  # no SO_REUSEADDR
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            listener.close()  # held already (a `make run` beside CI): that is the point
            continue
        listener.listen(16)
        selector.register(listener, selectors.EVENT_READ)
    print("held", flush=True)
    while True:
        for key, _ in selector.select():
            connection, _ = key.fileobj.accept()  # type: ignore[union-attr]
            connection.close()


if __name__ == "__main__":
    main()
