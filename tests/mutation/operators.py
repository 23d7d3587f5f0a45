"""The mutants of one module: small changes to its syntax tree, each spliced into the source text in place
of the node it changes, so the rest of the file stays as it is and a report can quote both texts."""
import ast
from collections import Counter
from dataclasses import dataclass

# Comparison flips: an order's boundary moved (< to <=: negating it, < to >=, is what every test notices), an
# equality or membership negated.
_COMPARE = {
    ast.Lt: (ast.LtE,), ast.LtE: (ast.Lt,), ast.Gt: (ast.GtE,), ast.GtE: (ast.Gt,),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
_ARITHMETIC = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Div: ast.Mult}
# Keywords of a transition that guard it: dropping one lets the transition through unguarded.
_GUARD_KEYWORDS = ("cond", "unless", "validators")


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository
    line: int  # where the change shows (a dropped piece's own line)
    span: tuple[int, int, int, int]  # the text replaced: line, column (bytes), end line, end column
    scope: str  # Class.method, function, or <module>
    operator: str
    replacement: str  # the text put in place of the span
    # What the report shows: the text changed and what it became (a dropped piece and "(dropped)").
    before: str
    after: str
    # Which of the identical (scope, operator, original, replacement) in the module this one is (0 for most).
    occurrence: int = 0

    @property
    def key(self) -> str:
        """Stable across edits elsewhere in the file: what the equivalent-mutant list is keyed by."""
        base = f"{self.scope}: {self.change}"
        return base if not self.occurrence else f"{base} #{self.occurrence + 1}"

    @property
    def change(self) -> str:
        return f"{_one_line(self.before)} -> {_one_line(self.after)}"

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def apply(self, source: str) -> str:
        lines = source.splitlines(keepends=True)
        offsets = [0]
        for text in lines:
            offsets.append(offsets[-1] + len(text.encode("utf-8")))
        data = source.encode("utf-8")
        line, col, end_line, end_col = self.span
        start = offsets[line - 1] + col
        end = offsets[end_line - 1] + end_col
        return (data[:start] + self.replacement.encode("utf-8") + data[end:]).decode("utf-8")


def mutants(path: str, source: str, scopes: tuple[str, ...] | None = None) -> list[Mutant]:
    """Every mutant of `source` (the file at `path`); with `scopes`, only those inside the named top-level
    functions, classes and assignments. Mutants that do not compile, or repeat another's text, are left out."""
    tree = ast.parse(source)
    finder = _Finder(source, path, scopes)
    finder.visit(tree)
    seen, found, counts = set(), [], Counter()
    for mutant in sorted(finder.found, key=lambda m: (m.line, m.span, m.operator, m.replacement)):
        text = mutant.apply(source)
        if text == source or text in seen:
            continue
        try:
            compile(text, path, "exec")
        except SyntaxError:
            continue
        seen.add(text)
        ident = (mutant.scope, mutant.change)
        found.append(_with(mutant, occurrence=counts[ident]))
        counts[ident] += 1
    return found


def _with(mutant: Mutant, **changes) -> Mutant:
    return Mutant(**{**mutant.__dict__, **changes})


class _Finder(ast.NodeVisitor):
    def __init__(self, source: str, path: str, scopes):
        self.source, self.path, self.scopes = source, path, scopes
        self.stack: list[str] = []
        self.found: list[Mutant] = []
        self.in_function = 0
        self.in_class_body = 0

    # Where we are -----------------------------------------------------------------------------------------
    @property
    def scope(self) -> str:
        return ".".join(self.stack) or "<module>"

    def _top_level(self, name: str, node) -> None:
        if self.scopes is not None and not self.stack and name not in self.scopes:
            return
        self.stack.append(name)
        self.generic_visit(node)
        self.stack.pop()

    def visit_Module(self, node):
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.visit(statement)
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if names and not names[0].startswith("__") and (self.scopes is None or names[0] in self.scopes):
                    if statement.value is not None:
                        self.stack.append(names[0])
                        self.visit(statement.value)
                        self.stack.pop()

    def visit_FunctionDef(self, node):
        if self.scopes is not None and not self.stack and node.name not in self.scopes:
            return
        self.stack.append(node.name)
        self.in_function += 1
        class_body, self.in_class_body = self.in_class_body, 0
        body = node.body
        if _is_docstring(body[0]):
            body = body[1:]
        for statement in body:
            self.visit(statement)
        self.in_class_body = class_body
        self.in_function -= 1
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        if self.scopes is not None and not self.stack and node.name not in self.scopes:
            return
        self.stack.append(node.name)
        self.in_class_body += 1
        for statement in node.body:
            if _is_docstring(statement):
                continue
            named = isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name)
            if named:  # a state, a transition, a setting: its name is the scope of its mutants
                self.stack.append(statement.targets[0].id)
                self._class_assignment(statement)
            self.visit(statement)
            if named:
                self.stack.pop()
        self.in_class_body -= 1
        self.stack.pop()

    def visit_JoinedStr(self, node):
        return  # messages: not a rule

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._remove_statement(node)
            self.visit(node.value)

    # Recording ----------------------------------------------------------------------------------------------
    def _add(self, node, operator: str, replacement: str, dropped=None):
        """`node`'s text replaced by `replacement`; `dropped`, the part of it that is left out, is what the
        report shows (a transition, an entry, an element)."""
        shown = dropped if dropped is not None else node
        before = ast.get_source_segment(self.source, shown)
        after = "(dropped)" if dropped is not None else replacement
        span = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        self.found.append(Mutant(self.path, shown.lineno, span, self.scope, operator, replacement, before, after))

    def _replace(self, node, operator: str, new_node):
        self._add(node, operator, ast.unparse(new_node))

    def _remove_statement(self, node):
        if self.in_function:
            self._add(node, "statement removed", "pass")

    # Statements ---------------------------------------------------------------------------------------------
    def visit_Assign(self, node):
        self._remove_statement(node)
        self.visit(node.value)

    def visit_AugAssign(self, node):
        self._remove_statement(node)
        swapped = _ARITHMETIC.get(type(node.op))
        if swapped:
            self._replace(node, "arithmetic swapped", ast.AugAssign(node.target, swapped(), node.value))
        self.visit(node.value)

    def visit_Expr(self, node):
        if not _is_docstring(node):
            self._remove_statement(node)
            self.visit(node.value)

    def visit_Raise(self, node):
        self._remove_statement(node)  # the message is not visited: its text is not a rule

    def visit_Return(self, node):
        value = node.value
        if value is not None and not _looks_boolean(value) and not (isinstance(value, ast.Constant)
                                                                     and value.value is None):
            self._replace(node, "return replaced", ast.Return(ast.Constant(None)))
        if value is not None:
            self.visit(value)

    # Expressions --------------------------------------------------------------------------------------------
    def visit_Compare(self, node):
        for index, op in enumerate(node.ops):
            for flipped in _COMPARE.get(type(op), ()):
                ops = list(node.ops)
                ops[index] = flipped()
                self._replace(node, "comparison flipped", ast.Compare(node.left, ops, node.comparators))
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        self._replace(node, "and/or swapped", ast.BoolOp(other, node.values))
        for index in range(len(node.values)):
            rest = node.values[:index] + node.values[index + 1:]
            self._add(node, "operand dropped", ast.unparse(rest[0] if len(rest) == 1 else ast.BoolOp(node.op, rest)),
                      node.values[index])
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            self._replace(node, "not removed", node.operand)
            self.generic_visit(node)
        elif isinstance(node.op, ast.USub) and _is_number(node.operand):
            self._number(node, -node.operand.value)
        else:
            self.generic_visit(node)

    def visit_BinOp(self, node):
        if isinstance(node.op, ast.BitOr) and self.in_class_body and not self.in_function:
            self.generic_visit(node)  # a transition union: its alternatives are dropped in _class_assignment
            return
        swapped = _ARITHMETIC.get(type(node.op))
        if swapped:
            self._replace(node, "arithmetic swapped", ast.BinOp(node.left, swapped(), node.right))
        self.generic_visit(node)

    def visit_Call(self, node):
        if isinstance(node.func, ast.Name) and node.func.id in ("min", "max") and not node.keywords:
            other = "max" if node.func.id == "min" else "min"
            self._replace(node, "min/max swapped", ast.Call(ast.Name(other), node.args, []))
        if self.in_class_body and not self.in_function:
            for keyword in node.keywords:
                if keyword.arg in _GUARD_KEYWORDS:
                    kept = [k for k in node.keywords if k is not keyword]
                    self._add(node, "guard dropped", ast.unparse(ast.Call(node.func, node.args, kept)), keyword)
                    if isinstance(keyword.value, ast.List) and len(keyword.value.elts) > 1:
                        self._elements_dropped(keyword.value, "guard dropped")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, bool):
            self._add(node, "constant changed", repr(not node.value))
        elif _is_number(node):
            self._number(node, node.value)

    def _number(self, node, value):
        for changed in (value + 1, value - 1):
            self._add(node, "constant changed", repr(changed))

    def visit_Tuple(self, node):
        if isinstance(node.ctx, ast.Load) and len(node.elts) > 1 and all(
                isinstance(e, ast.Constant) for e in node.elts):
            self._elements_dropped(node, "element dropped")
        self.generic_visit(node)

    visit_List = visit_Set = visit_Tuple

    def visit_Dict(self, node):
        if self.in_class_body and not self.in_function and len(node.keys) > 1:
            for index in range(len(node.keys)):
                keys, values = node.keys[:index] + node.keys[index + 1:], node.values[:index] + node.values[index + 1:]
                self._add(node, "entry dropped", ast.unparse(ast.Dict(keys, values)), _Span(node.keys[index],
                                                                                             node.values[index]))
        self.generic_visit(node)

    def _elements_dropped(self, node, operator):
        for index in range(len(node.elts)):
            rest = node.elts[:index] + node.elts[index + 1:]
            new = type(node)(rest, ast.Load()) if not isinstance(node, ast.Set) else ast.Set(rest)
            text = ast.unparse(new)
            if isinstance(node, ast.Tuple) and len(rest) == 1:
                text = f"({ast.unparse(rest[0])},)"
            self._add(node, operator, text, node.elts[index])

    # Class bodies: the transition table -----------------------------------------------------------------------
    def _class_assignment(self, node):
        """`event = a.to(b) | c.to(d) | ...`: each alternative dropped in turn (a state the event no longer leaves)."""
        alternatives = _union(node.value)
        if len(alternatives) < 2:
            return
        for index in range(len(alternatives)):
            rest = alternatives[:index] + alternatives[index + 1:]
            text = " | ".join(ast.unparse(a) for a in rest)
            self._add(node.value, "alternative dropped", f"({text})", alternatives[index])


class _Span:
    """From one node's start to another's end (a dict entry: its key to its value)."""

    def __init__(self, first, last):
        self.lineno, self.col_offset = first.lineno, first.col_offset
        self.end_lineno, self.end_col_offset = last.end_lineno, last.end_col_offset


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _union(node) -> list:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union(node.left) + _union(node.right)
    return [node]


def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_number(node) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _looks_boolean(node) -> bool:
    # Returning None for a boolean is a falsy False: nearly always an equivalent mutant, so not made.
    return (isinstance(node, (ast.Compare, ast.BoolOp)) or (isinstance(node, ast.UnaryOp) and isinstance(
        node.op, ast.Not)) or (isinstance(node, ast.Constant) and isinstance(node.value, bool))
        or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "bool"))
