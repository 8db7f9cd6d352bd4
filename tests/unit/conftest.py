"""Fixtures shared by the unit tests of several features: the job engine wired to the fakes."""

from tests.unit.jobs.engine import h, image_server, make_harness, restarted

__all__ = ["h", "image_server", "make_harness", "restarted"]
