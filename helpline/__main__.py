"""`python -m helpline` is the `helpline` command."""

import sys

from helpline.cli import main

sys.exit(main())
