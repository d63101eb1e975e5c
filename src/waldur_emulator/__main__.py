"""``python -m waldur_emulator``: serve one emulator until SIGTERM."""

from waldur_emulator.cli import main

raise SystemExit(main())
