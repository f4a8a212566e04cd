"""Test support: the pytest plugin (``plugin.py``) and the helpers tests import.

Tests import helpers from here only (never from conftest.py or another test module):
``apps`` (one app factory), ``factories`` (users, products, orders, distributors),
``payments`` (signed notifies, ``paid_order``), ``money`` (refund, settle, ledger checks),
``wechat_messages`` (webhook signing), ``fake_wechat`` / ``sandbox`` / ``webhook_fakes``.
"""
