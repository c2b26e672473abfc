"""The dashboard page: a reference client of the public stats API, served at /ui."""
