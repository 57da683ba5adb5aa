# -*- coding: utf-8 -*-
"""Runs wstest (autobahntestsuite, Python 2) with two additions for conformance/external.ts:

1. every finished case is printed at once as one line `@@result {json}` (id, behaviour, close grade,
   duration, close codes, whether the opening handshake timed out), so the harness sees results live
   and keeps them even when the run is cut short;
2. SIGUSR1 writes the reports of every case finished so far (HTML + JSON, as at the normal end) and
   stops, so a run stopped because the peer hangs still leaves a usable report.

3. `--merge-reports DIR` writes wstest's summary page (`index.html`) for the per-case reports
   (`<agent>_case_<id>.json`) gathered in DIR, which come from several wstest processes that each ran
   a part of the cases (see split.ts).

Usage: the same arguments as wstest, e.g.
    python2.7 conformance/wstest_driver.py -m fuzzingclient -s spec.json
    python2.7 conformance/wstest_driver.py --merge-reports conformance/report/servers/engine-deno
"""
import glob
import json
import os
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

def merge_reports(outdir):
    """wstest's index.html over every per-case JSON report in outdir (each holds the case's full
    result, as the fuzzer logged it)."""
    factory = fuzzing.FuzzingFactory(outdir)
    factory.CaseSet = fuzzing.CaseSet(fuzzing.CaseSetname, fuzzing.CaseBasename, fuzzing.Cases,
                                      fuzzing.CaseCategories, fuzzing.CaseSubCategories)
    count = 0
    for path in sorted(glob.glob(os.path.join(outdir, "*_case_*.json"))):
        with open(path) as f:
            case = json.load(f)
        # json gives unicode; the page mixes these with byte-string descriptions
        case["agent"], case["id"] = str(case["agent"]), str(case["id"])
        _original_log_case(factory, case)
        count += 1
    factory.createMasterReportHTML(outdir)
    sys.stdout.write("@@merged %d\n" % count)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--merge-reports"]:
        sys.exit(merge_reports(sys.argv[2]))
    sys.argv[0] = "wstest"
    sys.exit(wstest.run())
