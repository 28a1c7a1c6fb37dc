"""`python -m tasklens.server` is the `tasklens` command."""

import sys

from .cli import main

sys.exit(main())
