"""``python -m edp_ref.golden export|check DIR``: the conformance kit's command line."""

import sys

from edp_ref.golden.kit import main

sys.exit(main())
