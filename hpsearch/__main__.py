"""``python -m hpsearch``: the command line, with a clean way out at every moment.

Until a study takes over the signals (and after it gives them back), SIGINT and SIGTERM end
the command at once with 130 or 143 and no traceback, even in the middle of an import. Once the
outcome is decided the command ignores them, stops its local workers and leaves without running
exit handlers that a late signal could break.
"""

import os
import signal
import sys


def _stop(signum, frame):  # noqa: ANN001
    raise SystemExit(128 + signum)


def _run() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        from hpsearch.cli import main

        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        code = 130
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # decided: a late signal changes nothing
    if "joblib.externals.loky" in sys.modules:
        from hpsearch.execution import shutdown

        shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


os._exit(_run())
