"""The demo behind `p13n up --demo`: a configuration loaded through the admin API, and a shop."""
