"""Pure commerce rules: no Flask, SQLAlchemy, wechatpy or RQ imports (a test enforces it)."""
