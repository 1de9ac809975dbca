"""``python -m edp_ref.golden export|check DIR``: runs :func:`edp_ref.golden.cli.main`."""

import sys

from edp_ref.golden.cli import main

sys.exit(main())
