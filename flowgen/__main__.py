from flowgen.cli import main

raise SystemExit(main())
