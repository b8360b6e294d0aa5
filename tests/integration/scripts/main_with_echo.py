"""main.py's functions with the test suite's ``echo`` app registered, for FunctionsStack.

The echo app (tests/fakeapps.py) fails on demand, which the recovery tests need
inside the function processes themselves.
"""

from tributary import apps

apps.REGISTRY["echo"] = "tests.fakeapps:EchoApp"

from main import *  # noqa: E402, F403  (the entry points, under their own names)
