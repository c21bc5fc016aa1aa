#!/usr/bin/env python3
"""moto's server on 127.0.0.1 with a clock the tests can set.

usage: sqs-moto.py PORT

persevere-durable's SQS conformance suite drives its store with an injected
clock, as it drives every store; SQS itself reads the server's clock for
delays and visibility timeouts. So the tests move moto's clock with the
worker's: `POST /_persevere/clock` with the body `SECONDS.NANOS` (Unix
time) sets it there and stops it; the body `real` gives it back the wall
clock. Only moto's notion of "now" (`moto.core.utils.utcnow`, which its
SQS model reads through `unix_time`) changes; every other request is
moto's own.
"""

import datetime
import sys

from moto.core import utils
from moto.sqs import models as sqs_models
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

CLOCK_PATH = "/_persevere/clock"
EPOCH = datetime.datetime(1970, 1, 1)
LATEST = datetime.datetime(9999, 12, 31, 23, 59, 59)
state = {"at": None}
wall = utils.utcnow


def utcnow():
    at = state["at"]
    return wall() if at is None else at


utils.utcnow = utcnow


# moto hides a message until strictly after its visibility timeout ends (by
# the millisecond); SQS shows a message released with a zero timeout at
# once. Make the end inclusive, as the suite's leases are (a lease is over
# at its `until`), so that a test's clock can stop on the boundary.
def visible(message):
    return utils.unix_time_millis() >= message.visible_at


sqs_models.Message.visible = property(visible)


def parse(body):
    """The naive UTC datetime that `SECONDS.NANOS` names, clamped to 1970..9999."""
    seconds, _, fraction = body.partition(".")
    micros = int((fraction + "000000")[:6])
    try:
        return min(EPOCH + datetime.timedelta(seconds=int(seconds), microseconds=micros), LATEST)
    except OverflowError:
        return LATEST


def with_clock(app):
    def handle(environ, start_response):
        if environ.get("PATH_INFO") != CLOCK_PATH:
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode().strip()
        try:
            state["at"] = None if body == "real" else parse(body)
        except ValueError:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"expected SECONDS.NANOS or real\n"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]

    return handle


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    app = with_clock(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", int(sys.argv[1]), app, threaded=True, request_handler=MotoRequestHandler
    )
    print(f"moto with a settable clock on 127.0.0.1:{sys.argv[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
