"""chatlocal.gcpause: after a full collection its survivors are frozen, so the next full
collection walks only newer objects; garbage made later is still collected. In a subprocess:
the callback would otherwise stay installed in the test run's own interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.stack import ROOT

SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from chatlocal.gcpause import freeze_after_full_collections

    class Node:
        pass

    kept = [Node() for _ in range(10_000)]
    freeze_after_full_collections()
    freeze_after_full_collections()  # twice: still one callback
    assert gc.callbacks.count(gc.callbacks[-1]) == 1 and len(gc.callbacks) == 1
    assert gc.get_freeze_count() == 0
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept), frozen

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after the freeze
    gone = weakref.ref(a)
    del a, b
    gc.collect(1)  # a younger collection freezes nothing
    assert gc.get_freeze_count() == frozen
    gc.collect()
    assert gone() is None  # still collected
    print("ok", frozen)
    """
)


def test_full_collections_freeze_their_survivors_and_later_garbage_is_still_collected():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
