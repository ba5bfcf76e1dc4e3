"""The auth service: accounts, roles, flags, personalization services, tokens, ext_authz."""
