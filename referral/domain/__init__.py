"""Pure referral rules: no web, ORM, WeChat or queue imports (a test enforces it)."""
