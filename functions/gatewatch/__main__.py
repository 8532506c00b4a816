"""`python -m gatewatch` is the same as the `gatewatch` command."""
from .cli import main

raise SystemExit(main())
