"""WeChat Pay v2: the gateway wrapping wechatpy's client, and pure notify checks."""
