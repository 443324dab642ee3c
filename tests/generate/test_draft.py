"""The n-gram drafter proposes what followed the latest earlier match."""

from tunesmith.generate.draft import NGramDrafter


def test_proposes_the_continuation_of_the_latest_match():
    d = NGramDrafter(orders=(2,), k=3)
    d.extend([1, 2, 3, 4, 1, 2, 5, 6, 1, 2])
    assert d.propose() == [5, 6, 1]  # the latest "1 2" was followed by 5 6 1
    assert d.propose(limit=1) == [5]
    assert d.propose(limit=0) == []


def test_longer_orders_win_and_no_match_proposes_nothing():
    d = NGramDrafter(orders=(3, 1), k=2)
    d.extend([7, 8, 9, 1, 5, 8, 9, 2, 7, 8, 9])
    assert d.propose() == [1, 5]  # "7 8 9" matched at order 3, not "9" -> 2
    fresh = NGramDrafter()
    fresh.extend([1, 2, 3])
    assert fresh.propose() == []


def test_draft_length_adapts_to_acceptance():
    d = NGramDrafter(k=4, max_k=6)
    d.observe(4, 4)
    assert d.k == 6
    d.observe(6, 6)
    assert d.k == 6  # capped
    for _ in range(10):
        d.observe(3, 0)
    assert d.k == 1  # never below one guess
    d.observe(0, 0)
    assert d.k == 1  # nothing proposed: nothing learned


def test_the_rhythm_skeleton_guesses_structure_up_to_the_next_pitch():
    # ids >= 100 are pitches; 1-4 positions, 7 the program, 9 a duration
    d = NGramDrafter(orders=(4, 2), k=8, wildcard=range(100, 200))  # skeleton orders 4, 3
    d.extend([1, 7, 101, 9, 2, 7, 102, 9, 3, 7, 103, 9, 1, 7, 150])
    # No n-gram with pitch 150 was seen; the skeleton has "position 1, program, any pitch"
    # followed by duration 9, position 2 and the program, then a pitch: it stops there.
    assert d.propose() == [9, 2, 7]
    # Where the n-gram agrees with the skeleton it is used, pitches and all.
    d.extend([9, 2, 7, 102])
    assert d.propose()[:4] == [9, 3, 7, 103]
    # Without wildcards there is no skeleton: plain n-gram drafts.
    plain = NGramDrafter(orders=(2,), k=8)
    plain.extend([1, 7, 101, 9, 2, 7, 150])
    assert plain.propose() == []
