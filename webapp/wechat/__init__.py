"""WeChat official-account integration: API client, webhook protocol, OAuth."""
