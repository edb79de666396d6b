"""Run a module's unittest tests and report them as TAP, for prove.

Each test method is one TAP line; failures and errors become ``not ok`` with
the traceback on stderr (where prove shows it).  Use from a ``.t`` file:

    #!/usr/bin/env python3
    ...
    if __name__ == "__main__":
        tap.main()

``tap.skip_all(reason)`` prints ``1..0 # SKIP reason`` and exits.
"""

import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    """Prints one TAP line per test when the test ends."""

    def __init__(self, stream=sys.stdout, diag=sys.stderr):
        super().__init__()
        self.stream = stream
        self.diag = diag
        self.number = 0
        self.failed = False
        self.current = None

    def name(self, test):
        text = test.id().split(".", 1)[-1]
        summary = test.shortDescription() if hasattr(
            test, "shortDescription") else None
        return "%s: %s" % (text, summary) if summary else text

    def emit(self, ok, test, directive="", errors=()):
        self.number += 1
        line = "%s %d - %s" % ("ok" if ok else "not ok", self.number,
                               self.name(test).replace("#", "\\#"))
        if directive:
            line += " # " + directive
        self.stream.write(line + "\n")
        self.stream.flush()
        if not ok:
            self.failed = True
        for error in errors:
            self.diag.write("".join("# " + text + "\n"
                                    for text in error.rstrip().split("\n")))
        self.diag.flush()

    def startTest(self, test):
        super().startTest(test)
        self.current = {"test": test, "errors": [], "skip": None,
                        "todo": None}

    def stopTest(self, test):
        super().stopTest(test)
        state, self.current = self.current, None
        if state is None:
            return
        if state["errors"]:
            self.emit(False, test, errors=state["errors"])
        elif state["skip"] is not None:
            self.emit(True, test, "SKIP " + state["skip"])
        elif state["todo"] is not None:
            self.emit(True, test, "TODO " + state["todo"])
        else:
            self.emit(True, test)

    def record(self, test, text):
        if self.current is not None and self.current["test"] is test:
            self.current["errors"].append(text)
        else:   # setUpClass / tearDownClass and friends
            self.emit(False, test, errors=[text])

    def addError(self, test, err):
        super().addError(test, err)
        self.record(test, self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.record(test, self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.record(test, "%s\n%s" % (subtest.id(),
                                          self._exc_info_to_string(err,
                                                                   test)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self.current is not None and self.current["test"] is test:
            self.current["skip"] = reason
        else:
            self.emit(True, test, "SKIP " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.current["todo"] = "expected failure"

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.record(test, "unexpected success")


def skip_all(reason):
    sys.stdout.write("1..0 # SKIP %s\n" % reason)
    sys.stdout.flush()
    sys.exit(0)


def main(module="__main__"):
    """Run every TestCase of ``module``; exit 0 only when all passed."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[module])
    result = TapResult()
    try:
        suite.run(result)
    except Exception:   # the runner itself must still end the TAP stream
        result.emit(False, unittest.FunctionTestCase(lambda: None,
                                                     description="runner"),
                    errors=[traceback.format_exc()])
    sys.stdout.write("1..%d\n" % result.number)
    sys.stdout.flush()
    sys.exit(1 if result.failed or result.number == 0 else 0)
