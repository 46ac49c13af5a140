# -*- test-case-name: tests.test_discovery_pick -*-
"""
Pickers: the order in which a client endpoint tries a service's instances.

A picker is any object with ``order(instances) -> list``: the first
instance is the one chosen, the rest are the fallbacks tried, in turn, when
connecting to it fails.
"""

from __future__ import annotations

import random
from typing import Any, Optional, Sequence

from ._cache import Instance

__all__ = ["PICKERS", "RandomPicker", "RoundRobinPicker", "WeightedPicker", "make_picker"]


class RandomPicker:
    """
    Uniformly random: every instance equally likely first, the fallbacks
    in random order.

    :param rng: the random generator (a new ``random.Random`` by default).
    """

    def __init__(self, rng: Optional[random.Random] = None) -> None:
        self._rng = rng if rng is not None else random.Random()

    def order(self, instances: Sequence[Instance]) -> list[Instance]:
        """The instances shuffled."""
        out = list(instances)
        self._rng.shuffle(out)
        return out


class RoundRobinPicker:
    """
    Each call starts one further along the instances, sorted by
    ``(node, service_id)`` so that the rotation does not depend on the
    order Consul answers in; the fallbacks follow in that order.
    """

    def __init__(self) -> None:
        self._next = 0

    def order(self, instances: Sequence[Instance]) -> list[Instance]:
        """The instances, rotated by one more than last time."""
        ordered = sorted(instances, key=lambda i: i.key)
        if not ordered:
            return []
        start = self._next % len(ordered)
        self._next = start + 1
        return ordered[start:] + ordered[:start]


class WeightedPicker:
    """
    Random in proportion to Consul's ``Weights``: an instance's weight is
    ``Weights.Passing`` while its checks pass and ``Weights.Warning`` while
    one warns (agent/dns.go ``findWeight``, which gives these weights to DNS
    SRV answers).  The fallbacks are drawn the same way from those left
    (weighted sampling without replacement).  Instances of weight 0 come
    last, in random order, as RFC 2782 has SRV targets of weight 0 chosen
    only when nothing else is left.

    :param rng: the random generator (a new ``random.Random`` by default).
    """

    def __init__(self, rng: Optional[random.Random] = None) -> None:
        self._rng = rng if rng is not None else random.Random()

    def order(self, instances: Sequence[Instance]) -> list[Instance]:
        """The instances in a weighted random order, those of weight 0 last."""
        # Efraimidis-Spirakis: sorting by u ** (1 / w) draws without
        # replacement with probabilities proportional to the weights.
        keyed = [
            (self._rng.random() ** (1.0 / i.weight), n, i) for n, i in enumerate(instances) if i.weight > 0
        ]
        keyed.sort(key=lambda t: (-t[0], t[1]))
        zero = [i for i in instances if i.weight <= 0]
        self._rng.shuffle(zero)
        return [i for _, _, i in keyed] + zero


#: Picker names, as the ``pick=`` option of the ``consul:`` endpoint takes them.
PICKERS = {
    "random": RandomPicker,
    "round-robin": RoundRobinPicker,
    "weighted": WeightedPicker,
}


def make_picker(name: Any) -> Any:
    """
    A picker from a name of :data:`PICKERS` or an object with ``order``
    (returned as it is); ``None`` gives a :class:`RandomPicker`.

    :raises ValueError: for an unknown name.
    """
    if name is None:
        return RandomPicker()
    if isinstance(name, str):
        cls = PICKERS.get(name)
        if cls is None:
            raise ValueError(f"unknown picker {name!r}: use one of {', '.join(PICKERS)}")
        return cls()
    if not callable(getattr(name, "order", None)):
        raise TypeError("a picker must have an order(instances) method")
    return name
