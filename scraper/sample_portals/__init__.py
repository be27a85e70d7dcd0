"""Simulated Vietnamese district portals (Liferay, Tân Dân, NukeViet) for tests and the demo."""

from .portals import PORTALS
from .server import SampleWorld

__all__ = ["PORTALS", "SampleWorld"]
