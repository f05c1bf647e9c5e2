from hpn.hpcc.cli import main

raise SystemExit(main())
