"""Classified requests and success tallies in; metric documents and EMF JSON lines out."""
