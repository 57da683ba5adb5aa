# -*- coding: utf-8 -*-
"""Runs wstest (autobahntestsuite, Python 2) with two additions for conformance/external.ts:

1. every finished case is printed at once as one line `@@result {json}` (id, behaviour, close grade,
   duration, close codes, whether the opening handshake timed out), so the harness sees results live
   and keeps them even when the run is cut short;
2. SIGUSR1 writes the reports of every case finished so far (HTML + JSON, as at the normal end) and
   stops, so a run stopped because the peer hangs still leaves a usable report.

Usage: the same arguments as wstest, e.g.
    python2.7 conformance/wstest_driver.py -m fuzzingclient -s spec.json
"""
import json
import signal
import sys

from autobahntestsuite import fuzzing, wstest
from twisted.internet import reactor

_factories = []
_original_init = fuzzing.FuzzingFactory.__init__
_original_log_case = fuzzing.FuzzingFactory.logCase


def _init(self, outdir):
    _original_init(self, outdir)
    _factories.append(self)


def _log_case(self, result):
    _original_log_case(self, result)
    line = {
        "id": result["id"],
        "agent": result["agent"],
        "description": result["description"],
        "expectation": result["expectation"],
        "behavior": result["behavior"],
        "behaviorClose": result["behaviorClose"],
        "duration": result["duration"],
        "remoteCloseCode": result["remoteCloseCode"],
        "remoteCloseReason": result["remoteCloseReason"],
        "localCloseCode": result["localCloseCode"],
        "wasClean": result["wasClean"],
        "wasNotCleanReason": result["wasNotCleanReason"],
        "openHandshakeTimeout": result["wasOpenHandshakeTimeout"],
        "result": result["result"],
        "resultClose": result["resultClose"],
    }
    sys.stdout.write("@@result " + json.dumps(line, default=repr) + "\n")
    sys.stdout.flush()


def _stop_with_reports():
    for factory in _factories:
        try:
            factory.createReports()
        except Exception as error:  # a half-finished run must still stop
            sys.stdout.write("@@report-error %r\n" % (error,))
    sys.stdout.write("@@stopped\n")
    sys.stdout.flush()
    if reactor.running:
        reactor.stop()


def _on_usr1(signum, frame):
    reactor.callFromThread(_stop_with_reports)


fuzzing.FuzzingFactory.__init__ = _init
fuzzing.FuzzingFactory.logCase = _log_case
signal.signal(signal.SIGUSR1, _on_usr1)

if __name__ == "__main__":
    sys.argv[0] = "wstest"
    sys.exit(wstest.run())
