"""`python -m maaza ...` (what `accelerate launch -m maaza train ...` runs)."""

from maaza.cli import main

raise SystemExit(main())
