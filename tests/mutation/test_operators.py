"""The mutation run's operators (tests/mutation/operators.py): which mutants a source gives, spliced in place."""
from tests.mutation.operators import mutants

SOURCE = '''"""A module."""
LIMIT = 24


class Machine:
    go = a.to(b) | c.to(b, cond="ready")
    announces = {"go": "went", "stop": "stopped"}

    def on_go(self, amount=None):
        """Docstring."""
        if amount is None or amount <= 0:
            raise ValueError(f"refund of {amount} is wrong")
        self.total += amount
        return min(amount, LIMIT)
'''


def changes():
    return {(m.scope, m.operator, m.before, m.after) for m in mutants("m.py", SOURCE)}


def test_constants_comparisons_and_operators_are_changed_but_messages_and_docstrings_are_not():
    found = changes()
    assert ("LIMIT", "constant changed", "24", "23") in found and ("LIMIT", "constant changed", "24", "25") in found
    assert ("Machine.on_go", "comparison flipped", "amount <= 0", "amount < 0") in found
    assert ("Machine.on_go", "operand dropped", "amount is None", "(dropped)") in found
    assert ("Machine.on_go", "and/or swapped", "amount is None or amount <= 0",
            "amount is None and amount <= 0") in found
    assert ("Machine.on_go", "arithmetic swapped", "self.total += amount", "self.total -= amount") in found
    assert ("Machine.on_go", "statement removed", 'raise ValueError(f"refund of {amount} is wrong")', "pass") in found
    assert ("Machine.on_go", "min/max swapped", "min(amount, LIMIT)", "max(amount, LIMIT)") in found
    assert not any("Docstring" in before or "refund of" in after for _, _, before, after in found)


def test_a_transition_table_loses_each_alternative_guard_and_announcement_in_turn():
    found = changes()
    assert ("Machine.go", "alternative dropped", "a.to(b)", "(dropped)") in found
    assert ("Machine.go", "alternative dropped", 'c.to(b, cond="ready")', "(dropped)") in found
    assert ("Machine.go", "guard dropped", 'cond="ready"', "(dropped)") in found
    assert ("Machine.announces", "entry dropped", '"stop": "stopped"', "(dropped)") in found


def test_a_mutant_changes_only_its_own_text():
    [dropped] = [m for m in mutants("m.py", SOURCE) if m.after == "(dropped)" and m.before == "a.to(b)"]
    mutated = dropped.apply(SOURCE)
    # The union is written anew (ast.unparse quotes with '), the rest of the file is as it was.
    assert mutated.replace("go = (c.to(b, cond='ready'))", 'go = a.to(b) | c.to(b, cond="ready")') == SOURCE


def test_keys_name_the_scope_and_the_change_and_count_repeats():
    keys = [m.key for m in mutants("m.py", "def f(x):\n    return x + 1 + 1\n")]
    assert "f: 1 -> 2" in keys and "f: 1 -> 2 #2" in keys
