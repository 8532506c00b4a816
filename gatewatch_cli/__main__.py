"""`python -m gatewatch` is the same as the `gatewatch` command."""

from gatewatch_cli.main import main

raise SystemExit(main())
