"""The feature cache: encoder outputs kept per cutout, checkpoint and device."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
import threading
from typing import Any

__all__ = ["FeatureCache"]


class FeatureCache:
    """A least-recently-used cache of encoded cutouts.

    The :class:`~galseg.model.Assistant` keys it by ``(cutout content hash,
    checkpoint identity, device)``, so several assistants may share one cache
    and none can ever get another checkpoint's features, or features of other
    pixels. It is safe to use from several threads.

    Parameters
    ----------
    maxsize : int
        Most entries kept (a 256x256 cutout's features take about 6 MB).

    Examples
    --------
    >>> cache = FeatureCache(maxsize=2)
    >>> cache.put("a", 1); cache.put("b", 2); cache.get("a")
    1
    >>> cache.put("c", 3)  # evicts "b", the least recently used
    >>> cache.get("b") is None, len(cache)
    (True, 2)
    """

    def __init__(self, maxsize: int = 16) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        """The entry for ``key`` (now the most recently used), or None."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: Any) -> None:
        """Store an entry, evicting the least recently used beyond ``maxsize``."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries
