"""Static reading of hubconf.py: everything hubcheck knows without running repo code."""

from hubcheck.static.model import (
    Dependencies,
    DynamicConstruct,
    EntryPoint,
    EntryPointKind,
    HubconfModel,
    Parameter,
)
from hubcheck.static.reader import HubconfUnreadable, read_hubconf

__all__ = [
    "Dependencies",
    "DynamicConstruct",
    "EntryPoint",
    "EntryPointKind",
    "HubconfModel",
    "HubconfUnreadable",
    "Parameter",
    "read_hubconf",
]
