from chatadmin.cli import main

raise SystemExit(main())
