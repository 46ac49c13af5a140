# -*- test-case-name: tests.test_discovery_pick -*-
"""
Tests of the instance pickers: which instance comes first, and the order
of the fallbacks.
"""

from __future__ import annotations

import random
from collections import Counter

from twisted.trial.unittest import SynchronousTestCase

from txconsul.discovery import (
    PICKERS,
    Instance,
    RandomPicker,
    RoundRobinPicker,
    WeightedPicker,
    make_picker,
)


def inst(sid: str, passing: int = 1, warning: int = 1, status: str = "passing") -> Instance:
    """An instance of ``web`` on node n1."""
    return Instance("n1", sid, "web", "10.0.0.1", 80, weights=(passing, warning), status=status)


A, B, C = inst("a"), inst("b"), inst("c")


class PickerTests(SynchronousTestCase):
    """Random, round-robin and weighted orders."""

    def test_random_is_a_permutation_and_spreads(self) -> None:
        """The random picker returns every instance once, each first about equally often."""
        picker = RandomPicker(random.Random(1))
        firsts = Counter()
        for _ in range(3000):
            order = picker.order([A, B, C])
            self.assertEqual(sorted(i.service_id for i in order), ["a", "b", "c"])
            firsts[order[0].service_id] += 1
        for sid in "abc":
            self.assertTrue(850 < firsts[sid] < 1150, firsts)

    def test_round_robin_rotates_whatever_consul_order(self) -> None:
        """Round-robin starts one further each call, whatever order the instances come in."""
        picker = RoundRobinPicker()
        firsts = [
            picker.order([A, B, C])[0].service_id,
            picker.order([C, A, B])[0].service_id,
            picker.order([B, C, A])[0].service_id,
            picker.order([A, B, C])[0].service_id,
        ]
        self.assertEqual(firsts, ["a", "b", "c", "a"])
        self.assertEqual([i.service_id for i in picker.order([A, B, C])], ["b", "c", "a"])

    def test_round_robin_survives_shrinking(self) -> None:
        """When instances go, round-robin keeps going over those left."""
        picker = RoundRobinPicker()
        picker.order([A, B, C])
        picker.order([A, B, C])
        self.assertEqual(picker.order([A])[0], A)
        self.assertEqual(picker.order([]), [])

    def test_weighted_follows_weights(self) -> None:
        """The weighted picker picks in proportion to Weights.Passing."""
        heavy, light = inst("heavy", passing=3), inst("light", passing=1)
        picker = WeightedPicker(random.Random(2))
        firsts = Counter(picker.order([heavy, light])[0].service_id for _ in range(4000))
        self.assertTrue(2850 < firsts["heavy"] < 3150, firsts)

    def test_weighted_uses_warning_weight(self) -> None:
        """A warning instance weighs Weights.Warning; one of weight 0 is only a last fallback."""
        warn = inst("warn", passing=10, warning=0, status="warning")
        picker = WeightedPicker(random.Random(3))
        for _ in range(100):
            self.assertEqual(picker.order([warn, A]), [A, warn])
        self.assertEqual(picker.order([warn]), [warn])

    def test_weighted_warning_weight_counts(self) -> None:
        """A warning instance is picked in proportion to Weights.Warning, not Weights.Passing."""
        warn = inst("warn", passing=1, warning=3, status="warning")
        picker = WeightedPicker(random.Random(6))
        firsts = Counter(picker.order([warn, A])[0].service_id for _ in range(4000))
        self.assertTrue(2850 < firsts["warn"] < 3150, firsts)

    def test_weighted_fallbacks_are_the_rest(self) -> None:
        """The weighted order holds every instance of positive weight once."""
        picker = WeightedPicker(random.Random(4))
        self.assertEqual(sorted(i.service_id for i in picker.order([A, B, C])), ["a", "b", "c"])

    def test_make_picker(self) -> None:
        """Picker names map to classes; an unknown name or object is refused, naming the choices."""
        for name, cls in PICKERS.items():
            self.assertIsInstance(make_picker(name), cls)
        self.assertIsInstance(make_picker(None), RandomPicker)
        custom = RoundRobinPicker()
        self.assertIs(make_picker(custom), custom)
        e = self.assertRaises(ValueError, make_picker, "fastest")
        self.assertIn("round-robin", str(e))
        self.assertRaises(TypeError, make_picker, object())
