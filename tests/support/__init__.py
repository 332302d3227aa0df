"""Helpers the tests share: real services, repos, processes and corpora. No tests here."""
