"""WeChat: official-account API client, token store, OAuth, menu, links, WeChat Pay v2
gateway and notify parsing, and the webhook wire format (``messages``)."""
