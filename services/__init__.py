"""p13n: the auth, profile and offers services and what they share."""
