"""Tests of the WeChat sandbox."""
