"""Adapters: the rooms of a namespace and the delivery of broadcasts, on one server or across a cluster."""

from aiosocketio.adapters.base import Adapter
from aiosocketio.adapters.memory import InMemoryAdapter
from aiosocketio.adapters.options import BroadcastFlags, BroadcastOptions

__all__ = ["Adapter", "BroadcastFlags", "BroadcastOptions", "InMemoryAdapter"]
