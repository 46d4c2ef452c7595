from deploy.audit.audit import main

raise SystemExit(main())
