"""Makes ``facade_fakes`` (the in-memory cluster of the unit tests) importable.

The workspace runs pytest with ``--import-mode=importlib``, which does not put
test directories on ``sys.path``; the helper module has a package-specific
name so that it cannot clash with another package's helpers in one session.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
