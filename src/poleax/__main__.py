from poleax.cli import main

raise SystemExit(main())
