"""The chat storefront (issue 3): dialogue engine, command grammar, WeChat adapter."""
