"""Write the ``Fault`` component of docs/control-api.openapi.json from the control API's schema.

Usage: python scripts/gen_control_openapi.py [--check]

The fault kinds and their fields live in ``durabletask_testing/control/schema.py`` (``FAULT_KINDS``); this
script puts :func:`~durabletask_testing.control.schema.fault_openapi` into the document, leaving the rest of
it as written. With --check, exits 1 if the committed document differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from durabletask_testing.control.schema import fault_openapi

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "control-api.openapi.json"


def generated(text: str) -> str:
    """The document ``text`` with its Fault component replaced by the schema's."""
    document = json.loads(text)
    document["components"]["schemas"]["Fault"] = fault_openapi()
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is out of date")
    args = parser.parse_args(argv)
    current = DOCUMENT.read_text()
    wanted = generated(current)
    if args.check:
        if current != wanted:
            print(f"{DOCUMENT} is out of date: run python scripts/gen_control_openapi.py", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
