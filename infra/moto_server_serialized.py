"""moto's server (S3 + DynamoDB on one port), handling one request at a time.

`moto_server` runs moto's app on a threaded werkzeug server with no lock around DynamoDB
TransactWriteItems: a cancelled transaction restores a snapshot of the whole table taken before it
started, wiping out the writes of a transaction that committed meanwhile, and its partial updates
are visible to other requests while it runs. Real DynamoDB isolates transactions; so does moto
when requests do not overlap. This runs the same app on the same threaded server (connections are
still accepted and read concurrently) and lets one request at a time into moto.

Usage: python moto_server_serialized.py -H 127.0.0.1 -p PORT
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class OneRequestAtATime:
    """WSGI middleware: the wrapped app runs, and its whole answer is built, under one lock."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            answer = self.app(environ, start_response)
            try:
                return [b"".join(answer)]
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
