from data_products.cli import main

raise SystemExit(main())
