"""Strength reduction: integer arithmetic of degree 2 or more in a counted loop's index is
updated by finite differences instead of evaluated in every iteration.

Triangular storage is indexed by quadratics in the loop index (`c * d - c * (c + 1) // 2 + r`
for the lower part of a matrix stored column by column). LLVM strength-reduces affine index
arithmetic by itself but not a quadratic with a floor division, and Numba then also wraps
each such index around when negative (a compare and a select per access): in an inner loop
that costs more than the floating point work (ADBench's GMM: half of the gradient's time).

Where the `polynomial` rules of the primitives (ir/polynomials.py) show that an int value of
a loop body is a polynomial e(i) of degree D in the loop's index i (2 <= D <= 3), with
coefficients from values defined outside the loop and exact divisions only, the loop carries
e(i) and its forward differences Δ^j e(i) = Δ^(j-1) e(i + step) - Δ^(j-1) e(i), j < D, as
extra values: each iteration adds Δ^(j+1) to Δ^j, and Δ^D is a constant computed before the
loop. The values at the loop's start are written from their polynomials, or, where those
have fractional coefficients (`a * (a + 1) // 2`), from the expression itself evaluated at
lb, lb + step, ... (Newton's formula). See Cocke & Kennedy, "An algorithm for reduction of
operator strength", CACM 1977. Integer arithmetic in the ring of int64 keeps these updates exact
wherever the original expression does not overflow. Runs last, on code that Numba compiles
(in the interpreter the expression is cheaper than the extra carried values).
"""

from __future__ import annotations

from math import comb

from ..ir.clone import clone_function, clone_op
from ..ir.core import Const, Function, Op, Region, Value, walk_ops, walk_regions
from ..ir.polynomials import Polynomial
from ..primitives.arith import add_p, mul_p, neg_p, sub_p
from ..primitives.control import for_p
from .dce import dce

MAX_DEGREE = 3
MAX_REDUCED = 4  # values one loop carries as differences, at most
HINT, STEP_HINT = "index", "index_step"  # names of the carried values


def reduce_strength(fn: Function) -> Function:
    """A copy of `fn` whose counted loops update their polynomial index arithmetic by finite
    differences (loops marked parallel are left as they are)."""
    fn = clone_function(fn)
    containing = {op: region for region, _ in walk_regions(fn.body) for op in region.ops}
    loops = [op for op in walk_ops(fn.body)
             if op.prim is for_p and not op.attrs.get("parallel")]
    changed = False
    for loop in loops:
        changed |= _reduce(loop, containing[loop])
    return dce(fn) if changed else fn


def _is_int(v: Value) -> bool:
    return v.type.kind == "int" and v.type.ndim == 0


class _Analysis:
    """The polynomials of the int values of one loop's body (its top-level ops) in the loop's
    index and the int values defined outside the loop (atoms)."""

    def __init__(self, loop: Op):
        body = loop.regions[0]
        self.index = body.args[0]
        self.inside = {a for r, _ in walk_regions(body) for a in r.args}
        self.inside |= {r for o in walk_ops(body) for r in o.results}
        self.keys: dict[Value, int] = {self.index: 0}
        self.polys: dict[Value, Polynomial] = {}
        self.producers: dict[Value, Op] = {}
        for op in body.ops:
            rule = op.prim.polynomial
            if rule is None or len(op.results) != 1 or not _is_int(op.result):
                continue
            operands = [self.of(v) for v in op.operands]
            if all(p is not None for p in operands):
                poly = rule(op, operands)
                if poly is not None:
                    self.polys[op.result] = poly
                    self.producers[op.result] = op

    def of(self, v: Value) -> Polynomial | None:
        if v in self.polys:
            return self.polys[v]
        if isinstance(v, Const):
            return Polynomial.constant(v.value) if v.type.kind == "int" else None
        if not _is_int(v) or (v in self.inside and v is not self.index):
            return None
        key = self.keys.setdefault(v, len(self.keys))
        return Polynomial.atom(key, v)

    def degree(self, v: Value) -> int:
        return self.polys[v].degree(0) if v in self.polys else 0


def _reduce(loop: Op, region: Region) -> bool:
    analysis = _Analysis(loop)
    body = loop.regions[0]
    roots = _roots(body, analysis)[:MAX_REDUCED]
    lb, step = analysis.of(loop.operands[0]), analysis.of(loop.operands[2])
    if not roots or lb is None or step is None:
        return False
    before: list[Op] = []
    replaced: dict[Value, Value] = {}
    carried_inits, carried_args, updates = [], [], []
    for root in roots:
        plan = _differences(analysis.polys[root], analysis.index, step)
        starts = _StartValues(root, analysis, loop, before).of(plan, lb)
        args = [Value(root.type, HINT)] + [Value(root.type, STEP_HINT) for _ in plan[1:-1]]
        increments = args[1:] + [starts[-1]]
        replaced[root] = args[0]
        carried_inits += starts[:-1]
        carried_args += args
        updates += list(zip(args, increments))
    if not replaced:
        return False
    for op in walk_ops(body):
        op.operands = [replaced.get(v, v) for v in op.operands]
    terminator = body.ops[-1]
    sums = [_increment(a, inc) for a, inc in updates]
    body.ops[-1:-1] = sums
    terminator.operands = list(terminator.operands) + [s.result for s in sums]
    body.args = list(body.args) + carried_args
    loop.operands = list(loop.operands) + carried_inits
    loop.results = list(loop.results) + [Value(a.type, a.hint) for a in carried_args]
    position = region.ops.index(loop)
    region.ops[position:position] = before
    return True


def _increment(value: Value, by: Value) -> Op:
    if isinstance(by, Const) and by.value < 0:
        return Op(sub_p, [value, Const(-by.value, by.type)], [Value(value.type, value.hint)])
    return Op(add_p, [value, by], [Value(value.type, value.hint)])


def _roots(body: Region, analysis: _Analysis) -> list[Value]:
    """Values of degree 2..MAX_DEGREE in the index read by an op other than the polynomial
    arithmetic that builds a larger one from them."""
    building = {op for v, op in analysis.producers.items() if analysis.degree(v) >= 2}
    roots = []
    for op in walk_ops(body):
        if op in building:
            continue
        for v in op.operands:
            if 2 <= analysis.degree(v) <= MAX_DEGREE and v not in roots:
                roots.append(v)
    return roots


def _differences(poly: Polynomial, index: Value, step: Polynomial) -> list[Polynomial]:
    """[e, Δe, ..., Δ^D e] as polynomials in the index (Δ^D e does not depend on it)."""
    shifted = Polynomial.atom(0, index) + step
    plan = [poly]
    for _ in range(poly.degree(0)):
        plan.append(plan[-1].substitute(0, shifted) - plan[-1])
    return plan


class _StartValues:
    """Δ^j e at the loop's start, j = 0..D: written from its polynomial where the coefficients
    are integers, else by Newton's formula Δ^j e(lb) = sum_m (-1)^(j-m) C(j, m) e(lb + m step)
    from the ops that compute e, evaluated before the loop at the points lb + m step."""

    def __init__(self, root: Value, analysis: _Analysis, loop: Op, before: list[Op]):
        self.root, self.analysis, self.loop, self.before = root, analysis, loop, before
        self.samples: dict[int, Value] = {}

    def of(self, plan: list[Polynomial], lb: Polynomial) -> list[Value]:
        values = []
        for j, difference in enumerate(plan):
            hint = STEP_HINT if j else HINT
            at_start = difference.substitute(0, lb)
            if at_start.integer_coefficients():
                values.append(_emit_polynomial(at_start, self.root.type, hint, self.before))
                continue
            terms = [((-1) ** (j - m) * comb(j, m), self.sample(m)) for m in range(j + 1)]
            values.append(_combine(terms[::-1], self.root.type, hint, self.before))
        return values

    def sample(self, m: int) -> Value:
        """e(lb + m step), from clones of the ops that compute e."""
        if m not in self.samples:
            lb, _, step = self.loop.operands[:3]
            point = lb if m == 0 else _combine([(1, lb), (m, step)], lb.type, "at",
                                               self.before)
            mapping = {self.analysis.index: point}
            chain = _chain(self.root, self.analysis)
            for op in self.loop.regions[0].ops:
                if op in chain:
                    self.before.append(clone_op(op, mapping))
            self.samples[m] = mapping[self.root]
        return self.samples[m]


def _chain(root: Value, analysis: _Analysis) -> set[Op]:
    chain, todo = set(), [root]
    while todo:
        op = analysis.producers.get(todo.pop())
        if op is not None and op not in chain:
            chain.add(op)
            todo.extend(op.operands)
    return chain


def _emit_polynomial(poly: Polynomial, type, hint: str, before: list[Op]) -> Value:
    """Ops computing `poly` (integer coefficients), appended to `before`; its value."""
    terms = []
    for monomial, coefficient in sorted(poly.terms.items(), key=lambda t: (not t[0], t[0])):
        factors = [poly.atoms[key] for key, power in monomial for _ in range(power)]
        terms.append((int(coefficient), factors))
    return _combine(terms, type, hint, before)


def _combine(terms: list, type, hint: str, before: list[Op]) -> Value:
    """sum of coefficient * product(factors) over `terms`, (int, [values] or a value), as
    ops appended to `before` (a constant when there are no factors)."""
    def emit(prim, *operands) -> Value:
        op = Op(prim, list(operands), [Value(type, hint)])
        before.append(op)
        return op.result

    total = None
    constant = 0
    for coefficient, factors in terms:
        factors = factors if isinstance(factors, list) else [factors]
        if coefficient == 0:
            continue
        if not factors:
            constant += coefficient
            continue
        term = None if abs(coefficient) == 1 else Const(abs(coefficient), type)
        for factor in factors:
            term = factor if term is None else emit(mul_p, term, factor)
        if total is None:
            total = term if coefficient > 0 else emit(neg_p, term)
        else:
            total = emit(add_p if coefficient > 0 else sub_p, total, term)
    if total is None:
        return Const(constant, type)
    if constant:
        total = emit(add_p if constant > 0 else sub_p, total, Const(abs(constant), type))
    return total
