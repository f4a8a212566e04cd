"""Commissions and ledger (issue 5): plans, exact splits, double-entry ledger, settlement."""
