"""Random numeric Python programs for differential testing of the AD compiler (a fuzzer).

A generated program is a function ``f(a, b, x, n)`` of two float scalars, a 1-D float array
``x`` and its length ``n`` (an int), written in the subset the compiler differentiates:
assignments and augmented assignments, ``if``/``else``, ``for`` over ``range`` (forward,
from 1, backward, strided, nested), ``while`` loops with an int counter, ``break`` /
``continue`` / ``return`` inside loops, element reads and writes of local arrays, tuple
assignment and the smooth functions of ``math``.

The programs are kept smooth where they are differentiated and well conditioned:
- every branch condition is either on ints (loop indices, counters, ``n``) or compares an input
  or a bounded value with a constant far from the values it can take, so a central difference
  never crosses a switch point;
- the sampled inputs lie on a grid (k / 10 + 0.013, k != 0) so distinct inputs, their sums and
  their distances from 0 and from the constants used in ``min``/``max`` are all >= 0.02;
- divisions are by ``1 + v*v`` or ``2 + sin(v)``, ``exp`` only of ``tanh``/``sin`` of
  something, ``log`` / ``sqrt`` only of ``1 + v*v``; trip counts are small.

With ``extended=True`` (the standing fuzzer, benchmarks/fuzz.py) programs also use the
NumPy surface on whole arrays (``np.sum``, ``np.dot``, ``np.mean``, ``np.max`` of x, slices
``y[1:]``, ``x[:n - 1]``), whole-array and slice updates in place (``y += ...``,
``y[1:] *= ...``), windows whose length changes from one iteration to the next
(``y[i % n:]``, ``x[:i % n]``) and module-level helpers that read or write the arrays they are passed.

Choices are made through a ``draw(lo, hi)`` callable returning an int in [lo, hi], so the same
generator is driven by Hypothesis (``programs()``, which shrinks) or by ``random.Random``
(``generate(rng)``, for long hunts).
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FLOAT_CONSTANTS = ("0.5", "1.5", "2.0", "0.25", "-0.75", "3.0", "0.1")
MINMAX_CONSTANTS = ("0.05", "-0.05", "0.35", "-0.45")


@dataclass
class Program:
    source: str
    a: float
    b: float
    x: np.ndarray
    n: int

    def args(self):
        """Fresh arguments (a new copy of x each call)."""
        return (self.a, self.b, self.x.copy(), self.n)

    def __str__(self) -> str:
        return (f"{self.source}\nargs: a={self.a!r}, b={self.b!r}, "
                f"x=np.array({self.x.tolist()!r}), n={self.n}")


@dataclass
class _Scope:
    floats: list[str]            # float scalars that are certainly defined here
    ints: list[str]              # int loop indices / counters usable in index expressions
    arrays: list[str]            # local arrays (length n), read and written
    loop: str | None = None      # innermost loop kind: None, "for", "while_end", "while_start"

    def child(self, **changes) -> _Scope:
        scope = _Scope(list(self.floats), list(self.ints), list(self.arrays), self.loop)
        for key, value in changes.items():
            setattr(scope, key, value)
        return scope


@dataclass
class _Generator:
    draw: object                 # draw(lo, hi) -> int in [lo, hi]
    lines: list[str] = field(default_factory=list)
    counter: int = 0
    max_depth: int = 3
    budget: int = 14             # statements left to generate
    # When the parameters a and b may be reassigned, kinks and data-dependent branches read
    # only elements of x (never written), which stay on the grid.
    params_mutable: bool = False
    extended: bool = False       # NumPy on whole arrays, in-place array updates, helpers

    # -- helpers ------------------------------------------------------------------------
    def raw_inputs(self, scope: _Scope) -> list[str]:
        """Expressions whose value is an input on the grid (for kinks and branch conditions)."""
        element = f"x[{self.index(scope)}]"
        return [element] if self.params_mutable else ["a", "b", element]

    def targets(self, scope: _Scope) -> list[str]:
        if self.params_mutable:
            return scope.floats
        return [v for v in scope.floats if v not in ("a", "b")]

    def pick(self, options):
        return options[self.draw(0, len(options) - 1)]

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    # -- expressions --------------------------------------------------------------------
    def index(self, scope: _Scope) -> str:
        """An int expression in [-n, n), a valid (possibly negative) index of a length-n array."""
        if not scope.ints:
            return self.pick(["0", "n - 1", "n // 2", "-1"])
        i = self.pick(scope.ints)
        j = self.pick(scope.ints)
        return self.pick([
            f"{i} % n", f"({i} + 1) % n", f"({i} + {j}) % n", f"n - 1 - {i} % n",
            f"({i} * 2) % n", "0", "n - 1", f"{i} % n - 1",
        ])

    def leaf(self, scope: _Scope) -> str:
        if self.extended and self.draw(0, 5) == 0:
            return self.array_reduction(scope)
        kind = self.draw(0, 9)
        if kind <= 3:
            return self.pick(scope.floats)
        if kind <= 5:
            return f"x[{self.index(scope)}]"
        if kind <= 6 and scope.arrays:
            return f"{self.pick(scope.arrays)}[{self.index(scope)}]"
        if kind <= 7 and scope.ints:
            i = self.pick(scope.ints)
            return f"{self.pick(['0.1', '0.3', '-0.2'])} * {self.pick([i, f'float({i})'])}"
        if kind <= 8:
            return self.pick(["a", "b"])
        return self.pick(FLOAT_CONSTANTS)

    def expr(self, scope: _Scope, depth: int = 2) -> str:
        if depth <= 0:
            return self.leaf(scope)
        kind = self.draw(0, 16)
        if kind <= 2:
            return self.leaf(scope)
        sub = depth - 1
        if kind <= 5:
            op = self.pick(["+", "-", "*"])
            return f"({self.expr(scope, sub)} {op} {self.expr(scope, sub)})"
        if kind == 6:
            return f"-{self.expr(scope, sub)}"
        if kind == 7:
            fn = self.pick(["math.sin", "math.cos", "math.tanh", "np.sin", "np.tanh"])
            return f"{fn}({self.expr(scope, sub)})"
        if kind == 8:
            inner = self.pick(["math.tanh", "math.sin"])
            return f"math.exp({inner}({self.expr(scope, sub)}))"
        if kind == 9:
            v = self.expr(scope, sub)
            fn = self.pick(["math.log", "math.sqrt"])
            return f"{fn}(1.0 + {v} * {v})"
        if kind == 10:
            v = self.expr(scope, sub)
            if self.draw(0, 1):
                return f"({self.expr(scope, sub)} / (1.0 + {v} * {v}))"
            return f"({self.expr(scope, sub)} / (2.0 + math.sin({v})))"
        if kind == 11:
            # min / max of raw inputs and constants: all well apart, so never near a tie.
            u = self.pick(self.raw_inputs(scope))
            v = self.pick([*self.raw_inputs(scope)[:2], *MINMAX_CONSTANTS])
            if v.startswith("x["):
                v = MINMAX_CONSTANTS[1]
            if u == v:
                v = MINMAX_CONSTANTS[0]
            if self.draw(0, 3) == 0:
                return f"{self.pick(['min', 'max'])}({u}, {v}, {MINMAX_CONSTANTS[2]})"
            return f"{self.pick(['min', 'max'])}({u}, {v})"
        if kind == 12:
            # abs of an input: inputs are >= 0.08 away from 0.
            return f"abs({self.pick(self.raw_inputs(scope))})"
        if kind == 13:
            return f"{self.pick(FLOAT_CONSTANTS)} * {self.expr(scope, sub)}"
        if kind == 14:
            # a ternary on a condition
            test = self.int_condition(scope) if self.draw(0, 1) else self.condition(scope)
            return f"({self.expr(scope, sub)} if {test} else {self.expr(scope, sub)})"
        if kind == 15:
            return f"({self.expr(scope, sub)}) ** {self.pick(['2', '3'])}"
        return f"math.tanh({self.expr(scope, sub)})"

    def array_reduction(self, scope: _Scope) -> str:
        """A float from whole arrays (length n; slices of length n - 1 may be empty)."""
        arrays = ["x", *scope.arrays]
        u, v = self.pick(arrays), self.pick(arrays)
        if scope.ints and self.draw(0, 2) == 0:  # a window whose length changes with i
            i = self.pick(scope.ints)
            return self.pick([f"np.sum({u}[{i} % n:] * {v}[:n - {i} % n])",
                              f"np.dot({u}[:{i} % n], {v}[:{i} % n])",
                              f"np.sum(np.sin({u}[{i} % n:n]))"])
        return self.pick([
            f"np.sum({u} * {v})", f"np.dot({u}, {v})", f"np.mean({u})",
            f"np.sum({u}[1:] * {v}[:n - 1])", f"np.sum(np.sin({u}))", "np.max(x)",
            f"scaled_sum({u}, {self.pick(FLOAT_CONSTANTS)})", f"np.sum({u}[::2])",
        ])

    def array_update(self, scope: _Scope, indent: int) -> None:
        """An in-place update of a whole local array, a slice of it, or one through a helper."""
        array = self.pick(scope.arrays)
        value = self.expr(scope, 1)
        kind = self.draw(0, 5)
        if kind == 0:
            self.emit(indent, f"{array} += x * {value}")
        elif kind == 1:
            self.emit(indent, f"{array} *= math.tanh({value})" if self.draw(0, 1)
                      else f"{array} *= 0.5")
        elif kind == 2:
            self.emit(indent, f"{array}[1:] += {value}")
        elif kind == 3:
            self.emit(indent, f"{array}[:] = x * {value}")
        elif kind == 4:
            self.emit(indent, f"bump({array}, {self.index(scope)}, math.tanh({value}))")
        else:
            self.emit(indent, f"{array}[::2] -= {value}")

    def int_condition(self, scope: _Scope) -> str:
        if not scope.ints:
            return self.pick(["n > 2", "n % 2 == 0", "n == 1", "n < 4"])
        i = self.pick(scope.ints)
        j = self.pick(scope.ints)
        return self.pick([
            f"{i} % 2 == 0", f"{i} < 2", f"{i} == n - 2", f"{i} > {j}", f"({i} + {j}) % 3 == 1",
            f"{i} >= 1", f"{i} == 0", f"{i} % 3 != 2", f"{i} < 2 and {j} % 2 == 1",
            f"not {i} == 1", f"0 < {i} < 3", f"1 <= {i} <= n - 2",
        ])

    def condition(self, scope: _Scope) -> str:
        kind = self.draw(0, 5)
        if kind <= 2:
            return self.int_condition(scope)
        if kind == 3:
            # an input against 0 (inputs are >= 0.08 away from it): a real data-dependent branch
            v = self.pick(self.raw_inputs(scope))
            return f"{v} {self.pick(['>', '<'])} {self.pick(['0.0', '0.04'])}"
        if kind == 4:
            # a bounded value against a constant it cannot reach
            v = self.expr(scope, 1)
            fn = self.pick(["math.tanh", "math.sin", "math.cos"])
            return f"{fn}({v}) {self.pick(['<', '>'])} {self.pick(['1.5', '-1.5'])}"
        return f"{self.int_condition(scope)} or {self.pick(self.raw_inputs(scope))} > 0.0"

    # -- statements ---------------------------------------------------------------------
    def block(self, scope: _Scope, indent: int, depth: int, min_len: int = 1) -> None:
        """A block of at least min_len statements, adding block-local temporaries to scope."""
        count = self.draw(min_len, 3)
        for _ in range(count):
            self.statement(scope, indent, depth)

    def statement(self, scope: _Scope, indent: int, depth: int) -> None:
        self.budget -= 1
        simple = depth >= self.max_depth or self.budget <= 0
        kind = self.draw(0, 6 if simple else 13)
        targets = self.targets(scope)
        if kind == 0:
            self.emit(indent, f"{self.pick(targets)} = {self.expr(scope)}")
        elif kind == 1:
            op = self.pick(["+=", "-=", "*="])
            value = self.expr(scope)
            if op == "*=":  # keep products bounded
                value = f"{self.pick(['math.tanh', 'math.cos', 'math.sin'])}({value})"
            self.emit(indent, f"{self.pick(targets)} {op} {value}")
        elif kind == 2 and scope.arrays:
            array = self.pick(scope.arrays)
            op = self.pick(["=", "+=", "-=", "*="])
            value = self.expr(scope)
            if op == "*=":
                value = f"{self.pick(['math.tanh', 'math.cos', '0.5 + math.sin'])}({value})"
            self.emit(indent, f"{array}[{self.index(scope)}] {op} {value}")
        elif kind == 3 and len(targets) >= 2:
            s = self.pick(targets)
            t = self.pick([v for v in targets if v != s])
            rest = [v for v in targets if v not in (s, t)]
            value = f"{self.pick([f'{s} + {t}', f'{s} * 0.5', 'b'])} + {self.expr(scope, 1)}"
            if rest and self.draw(0, 1):
                u = self.pick(rest)
                self.emit(indent, f"{s}, {t}, {u} = {u}, {s}, {value}")
            else:
                self.emit(indent, f"{s}, {t} = {t}, {value}")
        elif kind == 5 and scope.arrays:
            # swap (and scale) two elements, possibly the same one
            array = self.pick(scope.arrays)
            i, j = self.index(scope), self.index(scope)
            self.emit(indent, f"{array}[{i}], {array}[{j}] = {array}[{j}], {array}[{i}] * "
                              f"{self.pick(['0.5', '-1.5', 'a', 'b', f'x[{self.index(scope)}]'])}")
        elif kind == 6:
            # a temporary defined by both branches of an `if`, used after it
            name = self.fresh("t")
            self.emit(indent, f"if {self.condition(scope)}:")
            self.emit(indent + 1, f"{name} = {self.expr(scope)}")
            self.emit(indent, "else:")
            self.emit(indent + 1, f"{name} = {self.expr(scope)}")
            scope.floats.append(name)
        elif kind in (2, 3, 4, 5):
            # a block-local temporary, defined from here to the end of the block
            name = self.fresh("t")
            self.emit(indent, f"{name} = {self.expr(scope)}")
            scope.floats.append(name)
        elif kind in (7, 8):
            self.emit(indent, f"if {self.condition(scope)}:")
            self.block(scope.child(), indent + 1, depth + 1)
            if self.draw(0, 2) == 0:
                self.emit(indent, f"elif {self.condition(scope)}:")
                self.block(scope.child(), indent + 1, depth + 1)
            if self.draw(0, 1):
                self.emit(indent, "else:")
                self.block(scope.child(), indent + 1, depth + 1)
        elif kind in (9, 10):
            self.for_loop(scope, indent, depth)
        elif kind == 11:
            self.while_loop(scope, indent, depth)
        elif kind == 12 and self.extended and scope.arrays:
            self.array_update(scope, indent)
        elif kind == 13 and scope.loop is None and scope.arrays:
            # a new array outside loops (the compiler refuses arrays created in loops): a fresh
            # copy, or an alias of a local array
            array = self.pick(scope.arrays)
            name = self.fresh("y")
            self.emit(indent, f"{name} = {self.pick([f'{array}.copy()', 'x.copy()', array])}")
            scope.arrays.append(name)
        else:
            self.jump(scope, indent, depth)

    def for_loop(self, scope: _Scope, indent: int, depth: int) -> None:
        i = self.fresh("i")
        if depth == 0 or not scope.ints:
            rng = self.pick(["range(n)", "range(1, n)", "range(n - 1, -1, -1)",
                             "range(0, n, 2)", "range(n - 1, 0, -2)", "range(len(x))"])
        else:
            outer = self.pick(scope.ints)
            rng = self.pick(["range(2)", f"range({outer} % 3)", "range(n)",
                             f"range({outer} % 3, 3)", "range(2, -1, -1)"])
        self.emit(indent, f"for {i} in {rng}:")
        self.block(scope.child(ints=[*scope.ints, i], loop="for"), indent + 1, depth + 1)

    def while_loop(self, scope: _Scope, indent: int, depth: int) -> None:
        k = self.fresh("k")
        limit = self.pick(["n", "3", "n + 1", "2"])
        start = self.pick(["0", "0", "1"])
        self.emit(indent, f"{k} = {start}")
        extra = ""
        if self.draw(0, 3) == 0:  # a float test that is always true
            extra = f" and math.tanh({self.pick(scope.floats)}) < 1.5"
        self.emit(indent, f"while {k} < {limit}{extra}:")
        body = scope.child(ints=[*scope.ints, k])
        if self.draw(0, 1):
            # increment first: `continue` is safe in this body
            self.emit(indent + 1, f"{k} += 1")
            body.loop = "while_start"
            self.block(body, indent + 1, depth + 1)
        else:
            body.loop = "while_end"
            self.block(body, indent + 1, depth + 1)
            self.emit(indent + 1, f"{k} += 1")

    def jump(self, scope: _Scope, indent: int, depth: int) -> None:
        if scope.loop is None:
            # a return at top level or in a branch (not inside a loop)
            self.emit(indent, f"if {self.int_condition(scope)}:")
            self.emit(indent + 1, f"return {self.result(scope)}")
            return
        options = ["break", "return"]
        if scope.loop != "while_end":
            options.append("continue")
        kind = self.pick(options)
        self.emit(indent, f"if {self.int_condition(scope)}:")
        if kind == "return":
            self.emit(indent + 1, f"return {self.result(scope)}")
        else:
            if self.draw(0, 1):  # some work before the jump
                target = self.pick(self.targets(scope))
                self.emit(indent + 1, f"{target} += {self.expr(scope, 1)}")
            self.emit(indent + 1, kind)

    def result(self, scope: _Scope) -> str:
        """A float expression of the state: several locals plus an expression."""
        terms = [self.pick(scope.floats) for _ in range(self.draw(1, 3))]
        if scope.arrays and self.draw(0, 1):
            terms.append(f"{self.pick(scope.arrays)}[{self.index(scope)}]")
        terms.append(self.expr(scope, 1))
        return " + ".join(terms)

    def program(self) -> str:
        self.emit(0, "def f(a, b, x, n):")
        scope = _Scope(floats=["a", "b"], ints=[], arrays=[])
        for _ in range(self.draw(1, 3)):
            name = self.fresh("s")
            self.emit(1, f"{name} = {self.expr(scope, 1)}")
            scope.floats.append(name)
        for _ in range(self.draw(0, 2)):
            name = self.fresh("y")
            self.emit(1, f"{name} = {self.pick(['np.zeros(n)', 'x.copy()', 'np.copy(x)'])}")
            scope.arrays.append(name)
        self.block(scope, 1, 0, min_len=1)
        if self.draw(0, 1):
            self.block(scope, 1, 0, min_len=1)
        self.emit(1, f"return {self.result(scope)}")
        head = "import math\n\nimport numpy as np\n\n\n"
        if self.extended:
            head += HELPERS
        return head + "\n".join(self.lines) + "\n"


HELPERS = """def bump(v, i, c):
    v[i] += c * v[i] + c


def scaled_sum(v, c):
    return c * np.sum(v)


"""


def _grid_values(draw, count: int) -> list[float]:
    """Distinct inputs k/10 + 0.013 with k in [-15, 15] \\ {0}."""
    ks: list[int] = []
    while len(ks) < count:
        k = draw(-15, 14)
        k = k + 1 if k >= 0 else k
        while k in ks:
            k = k % 15 + 1 if k > 0 else -((-k) % 15 + 1)
        ks.append(k)
    return [round(k / 10 + 0.013, 3) for k in ks]


def build_program(draw, budget: int = 14, max_depth: int = 3,
                  extended: bool = False) -> Program:
    n = draw(1, 5)
    a, b, *xs = _grid_values(draw, n + 2)
    generator = _Generator(draw, max_depth=max_depth, budget=budget,
                           params_mutable=draw(0, 3) == 0, extended=extended)
    source = generator.program()
    return Program(source, a, b, np.array(xs, dtype=np.float64), n)


def programs():
    """Hypothesis strategy of Programs."""
    from hypothesis import strategies as st

    @st.composite
    def strategy(draw_):
        return build_program(lambda lo, hi: draw_(st.integers(lo, hi)))

    return strategy()


def generate(rng: random.Random, budget: int = 14, max_depth: int = 3,
             extended: bool = False) -> Program:
    """A program drawn with `rng` (larger budget / depth: larger programs)."""
    return build_program(rng.randint, budget, max_depth, extended)


def load(source: str, directory, name: str = "f") -> object:
    """Write `source` to a file in `directory`, import it under a unique name, return the
    function `name` defined in it."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    module_name = f"generated_program_{digest}"
    if module_name not in sys.modules:
        path = Path(directory) / f"{module_name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return getattr(sys.modules[module_name], name)
