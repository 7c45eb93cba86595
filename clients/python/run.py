"""Run the checks of the named modules: python run.py test_psycopg2 ...

Always exits 0 when the checks ran: pass/fail is judged from the CHECK lines
(clients/judge.py), against clients/expected-failures.txt.
"""
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def main():
    for name in sys.argv[1:]:
        module = importlib.import_module(name)
        harness.run_module(module)


if __name__ == "__main__":
    main()
