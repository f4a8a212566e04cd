"""The referral tree (issue 4): binding rules, ancestors, team queries, distributors."""
