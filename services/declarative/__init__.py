"""Declarative configuration: a parent segment's whole configuration as one YAML file.

``document`` reads and writes the file, ``kinds`` says what each kind of item is made of
and how the server's answers are brought to the file's form, ``plan`` computes the
creates, updates and deletes that make the suite match a file (pure, no I/O),
``converge`` reads the suite and carries a plan out through the admin API, and
``export`` writes a suite's configuration back as a file. No click here: the CLI
(``services/cli/apply.py``) and the demo loader both call this package.
"""
