"""The hostile-input corpus: cases, their runner and the known-failure registry."""
