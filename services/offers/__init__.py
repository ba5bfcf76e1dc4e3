"""The offers service: personalizations, criteria, payloads, redaction, personalize paths."""
