from minibase.cli import main

raise SystemExit(main())
