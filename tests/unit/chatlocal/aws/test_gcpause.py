"""chatlocal.aws.gcpause: after a full collection its survivors are frozen, so the next full
collection walks only newer objects; garbage made later is still collected; and every
THAW_SECONDS the frozen objects are given back, so a cycle that died frozen is reclaimed. In a
subprocess: the callback would otherwise stay installed in the test run's own interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.stack import ROOT

SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from chatlocal.aws.gcpause import freeze_after_full_collections

    class Node:
        pass

    now = [0.0]
    kept = [Node() for _ in range(10_000)]
    freeze_after_full_collections(thaw_seconds=600, clock=lambda: now[0])
    freeze_after_full_collections()  # twice: still one callback
    assert len(gc.callbacks) == 1
    assert gc.get_freeze_count() == 0

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle alive at the freeze
    dies_frozen = weakref.ref(a)
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept), frozen

    c, d = Node(), Node()
    c.other, d.other = d, c  # a cycle made after the freeze
    dies_young = weakref.ref(c)
    del a, b, c, d
    gc.collect(1)  # a younger collection freezes nothing
    assert gc.get_freeze_count() == frozen
    gc.collect()
    assert dies_young() is None  # collected
    assert dies_frozen() is not None  # frozen: not examined

    now[0] = 600.0  # ten minutes on: the next full collection gives the frozen objects back
    gc.collect()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert dies_frozen() is None  # reclaimed once thawed
    assert gc.get_freeze_count() > 0  # and freezing goes on
    print("ok", frozen)
    """
)


def test_full_collections_freeze_their_survivors_and_a_thaw_reclaims_what_died_frozen():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
