"""The chat storefront's application side: dialogue state, intents, outbound messages."""
