"""Reverse mode: the adjoint function = forward sweep (primal + tape) + reverse sweep.

The reverse sweep visits the primal ops last to first and applies each primitive's vjp rule,
accumulating adjoints x_bar of active values (Griewank & Walther, "Evaluating Derivatives",
2nd ed., ch. 3-4). Structured control flow reverses structurally:
- `if`: the same condition chooses which branch's reverse runs; adjoints of values from
  outside the branch that it updates become the reverse `if`'s results.
- `for`: a `for` over the same range backwards (forwards when its iterations are
  independent, ad.order); the adjoints of the carried values, and of values from outside
  the loop that it reads, are the reverse loop's carried values.
Primal values that the rules read are served by ad.tape (direct, recomputed, or taped).
Arrays have adjoint buffers (`np.zeros_like`) that reads of elements scatter into; those of
arrays made in a loop are made afresh where each run of its body reverses. A loop carrying an
array carries its adjoint, an array, through the reverse loop.
"""

from __future__ import annotations

import math

from ..analysis.activity import analyze
from ..analysis.aliasing import snapshot_overwritten_operands
from ..errors import UnsupportedOperationError
from ..ir.builder import Builder
from ..ir.core import Const, Function, Op, Region, Value, const, walk_ops, walk_regions
from ..ir.types import I64, Type, bits_attrs
from ..primitives.arith import cast_float_p, trip_count_p
from ..primitives.arrays import unbroadcast
from ..primitives.control import (
    comment_p,
    for_p,
    if_p,
    return_p,
    tape_value_p,
    while_p,
    yield_p,
)
from ..primitives.gpu import atomic_add_p, grid_p
from ..primitives.indexing import (
    Scatter,
    WholeArray,
    array_add_p,
    copy_p,
    dense_contribution,
    getitem_p,
    index_add_p,
    zeros_like_p,
)
from ..transforms.branches import share_branch_values
from ..transforms.cse import cse
from ..transforms.dce import dce
from ..transforms.simplify import simplify
from . import checkpoint
from .fusion import Fusion, fusable, untaped
from .order import in_push_order, independent_iterations
from .positions import increments, read_in_loops, write_positions
from .tape import TapePlan

# Relative costs for choosing between taping a value and recomputing it in the reverse sweep:
# a transcendental function costs about as much as storing and reloading a few doubles.
TRANSCENDENTAL_COST = 8
TAPE_COST = 2
RECOMPUTE_BUDGET = 10


class ReverseContext:
    """The reverse of one primal region being built: what it reads from the tape."""

    def __init__(self, info, popped=None):
        self.info = info
        self.popped: dict[Value, Value] = dict(popped or {})
        self.loaded: list[tuple[Value, Value]] = []
        self.prelude: list[Op] = []


class ReverseTransform:
    def __init__(self, fn: Function, wrt: list[int], checkpoint=None, outputs=None,
                 reuse_tapes: bool = False, budget: bool = False):
        self.fn = fn
        self.wrt = wrt
        self.checkpoint = checkpoint
        self.kernel = outputs is not None
        # a kernel's output arrays: their buffers are the (read-only) cotangents
        self.outputs = {a for a in outputs or ()}
        self.activity = analyze(fn, wrt, outputs or ())
        self.plan = TapePlan(fn, reuse_tapes, budget)
        self.contexts: dict[Region, ReverseContext] = {}
        self.buffers: dict[Value, Value] = {}
        self.branch_arrays: dict[Region, list[Value]] = {}  # region -> arrays made there
        self.producer = {r: op for op in walk_ops(fn.body) for r in op.results}
        self.written = {op.operands[0] for op in walk_ops(fn.body)
                        if op.prim.writes}
        self.last_write, self.statement_of = write_positions(fn)
        self.increments = {} if self.kernel else increments(fn)  # a[i] += e: write -> e
        # arrays whose elements or slices are read (their adjoints are scattered into buffers),
        # or that a loop reads from outside (their adjoints are added from inside it)
        self.read_by_element = {op.operands[0] for op in walk_ops(fn.body)
                                if op.prim.element_read} | read_in_loops(fn)

    def active(self, v) -> bool:
        return self.activity.active(v)

    # --- serving primal values to the reverse sweep ----------------------------------------
    def resolve(self, v):
        """The value the reverse sweep uses for primal `v`: itself, lifted out of a branch,
        recomputed (its inputs first) or loaded from a tape. A chain of recomputed values is
        walked with an explicit stack, so long straight-line code does not recurse."""
        todo, recompute = [v], {}
        while todo:
            w = todo[-1]
            if self._ready(w):
                todo.pop()
                continue
            if w not in recompute:
                recompute[w] = self._recompute_cost(w) <= RECOMPUTE_BUDGET \
                    and self._new_tape_loads(w) <= 1
            waiting = [o for o in self.producer[w].operands if not self._ready(o)] \
                if recompute[w] else []
            if waiting:
                todo.extend(reversed(waiting))  # the first operand is served first
                continue
            ctx = self.contexts[self.plan.region_of(w).region]
            ctx.popped[w] = self._recompute(w, ctx) if recompute[w] else self._load(w, ctx)
            todo.pop()
        info = self.plan.region_of(v)
        if info is None:
            return v
        if info.once:
            return self.plan.lift(v)
        return self.contexts[info.region].popped[v]

    def _ready(self, v) -> bool:
        """Whether `v` is served without a new recomputation or tape load."""
        info = self.plan.region_of(v)
        return info is None or info.once or v in self.contexts[info.region].popped

    def _recompute(self, v, ctx: ReverseContext):
        """Emit `v`'s op again at the start of the reverse region (cheaper than a tape: its
        inputs are at hand without a tape, within RECOMPUTE_BUDGET, and already served)."""
        op = self.producer[v]
        region = Region()
        Builder(region, op.loc, resolve=self.resolve).op(
            op.prim, *op.operands, attrs=op.attrs, hint=v.hint, result_types=[v.type])
        ctx.prelude.extend(region.ops)
        return region.ops[-1].result

    def _recompute_cost(self, v, budget: float = RECOMPUTE_BUDGET) -> float:
        """Cost of recomputing `v`, each input served the cheaper way (recomputed or taped);
        inf once it exceeds `budget` (each op costs at least 1 and its inputs get what is
        left, so the walk is at most `budget` deep)."""
        op = self.producer.get(v)
        if op is None or op.regions or not op.prim.pure or len(op.results) != 1 \
                or v in self.written:  # an array written after it is made
            return math.inf
        if _reads_part(op) and not self.read_is_final(op) or \
                any(not self.read_is_final(op, a) for a in op.operands if a.type.is_array
                    and not (op.prim.shape_only and self._ready(a))):
            return math.inf  # the element or array may have been overwritten since (a
            # shape may be read again: writes never change it)
        cost = 1 if op.prim.cheap else TRANSCENDENTAL_COST
        for o in op.operands:
            if cost > budget:
                return math.inf
            cost += self._serve_cost(o, budget - cost)
        return cost if cost <= budget else math.inf

    def _new_tape_loads(self, v) -> int:
        """How many values not served yet recomputing `v` would load from tapes (its inputs
        that are not recomputed themselves). Taping `v` itself costs one: recomputing
        `x - y` from two taped operands pushes and pops twice the doubles per iteration."""
        loads, todo, seen = 0, [v], set()
        while todo:
            for o in self.producer[todo.pop()].operands:
                if o in seen or self._ready(o):
                    continue
                seen.add(o)
                if self._recompute_cost(o) <= RECOMPUTE_BUDGET:
                    todo.append(o)
                else:
                    loads += 1
        return loads

    def _serve_cost(self, v, budget: float) -> float:
        """min(tape, recompute) for an input; exact when it is within `budget`."""
        info = self.plan.region_of(v)
        if info is None or info.once or v in self.contexts[info.region].popped:
            return 0
        return min(TAPE_COST, self._recompute_cost(v, min(TAPE_COST, budget)))

    def _load(self, v, ctx: ReverseContext) -> Value:
        """Read `v` from its tape (arrays as rows: ad.tape); an array the region writes into
        after making it is taped in the state its last write leaves."""
        loc = self.producer_loc(v) or self.plan.region_of(v).owner.loc  # a loop's argument
        self.plan.tape(v, loc, at_end=v in self.written)
        copy = Value(v.type, v.hint)
        ctx.loaded.append((v, copy))
        return copy

    # --- adjoints ------------------------------------------------------------------------------
    def accumulate(self, b: Builder, adj: dict, v, g) -> None:
        if not self.active(v):
            return
        if v in self.buffers:  # a mutable array: its adjoint lives in its buffer
            b.op(array_add_p, self.buffers[v], g, result_types=[])
            return
        total = b.add(adj[v], g) if v in adj else g
        if self._is_new(total) and not total.hint.endswith("_bar"):
            total.hint = v.hint + "_bar"
        adj[v] = total

    def producer_loc(self, v):
        op = self.producer.get(v)
        return op.loc if op is not None else None

    def _is_new(self, value) -> bool:
        """Made by the reverse sweep (so its name may be chosen here)."""
        return not isinstance(value, Const) and self.plan.region_of(value) is None

    def buffer(self, array) -> Value:
        if array not in self.buffers:
            raise UnsupportedOperationError("differentiating through an array that is not an "
                                            "argument is not supported yet",
                                            self.producer_loc(array))
        return self.buffers[array]

    # --- the transform --------------------------------------------------------------------------
    def run(self, name: str, seeded: bool = False) -> Function:
        """Build the adjoint. Unseeded grad: one float output, seeded with 1.0. Seeded
        vjp: one extra parameter per output, its cotangent (same type as the output)."""
        outs = self.fn.body.ops[-1].operands
        if not seeded:
            _check_scalar_output(self.fn)
        seeds = [Value(v.type, f"{v.hint}_bar_in") for v in outs] if seeded else [const(1.0)]
        for out in outs:
            if seeded and not out.type.is_float:
                raise UnsupportedOperationError("vjp needs float outputs (numbers or arrays)",
                                                self.fn.body.ops[-1].loc)
        reverse = Region()
        b = Builder(reverse, None, fold=True, resolve=self.resolve)
        reverse.ops.append(Op(comment_p, [], [], [], {"text": "reverse sweep"}, None))
        self.allocate_buffers(b)
        adj = {}
        for out, seed in zip(outs, seeds):
            self.accumulate(b, adj, out, seed)
        if self.checkpoint is not None and any(
                self.checkpointed(op) for op in self.fn.body.ops):
            # restoring checkpoints rewinds arrays: return copies of array outputs
            outs = [b.op(copy_p, v, hint=v.hint).result if v.type.is_array else v for v in outs]
        self.reverse_ops(self.fn.body, b, adj)
        grads = []
        for k in self.wrt:
            p = self.fn.params[k]
            grads.append(self.buffers[p] if p.type.is_array else
                         _as_type(b, adj.get(p, const(0.0)), p.type))
        ret = b.op(return_p, *outs, *grads, result_types=[])
        params = self.fn.body.args + (seeds if seeded else [])
        forward = self.plan.forward_sweep(self.fn.body)
        forward = self.plan.budget_prelude() + forward  # after the sweep made the charges
        if self.plan.tape_inputs:  # the tapes go back to the caller, for the next call
            reverse.ops.pop()
            params = params + list(self.plan.tape_inputs.values())
            taken = [Op(tape_value_p, [], [Value(v.type, name)], [], {"tape": name},
                        None) for name, v in self.plan.tape_inputs.items()]
            reverse.ops += taken + [Op(ret.prim, ret.operands + [t.result for t in taken], [],
                                       [], ret.attrs, ret.loc)]
        if self.plan.fusions:  # fused loops add into the arguments' buffers as they go
            early = [o for o in reverse.ops if o.prim is zeros_like_p
                     and any(o.operands[0] is p for p in self.fn.params)]
            reverse.ops = [o for o in reverse.ops if o not in early]
            forward = early + forward
        if all(o.prim is comment_p or o.prim.terminator for o in reverse.ops):
            reverse.ops = reverse.ops[-1:]  # everything ran inside fused loops
        if self.plan.budget is not None:  # the tape budget in bytes, the last argument
            params = params + [self.plan.budget]
        body = Region(params, forward + reverse.ops)
        param_names = self.fn.param_names + [v.hint for v in params[len(self.fn.params):]]
        adjoint = Function(name, body, self.fn.filename, None, param_names, self.fn.constants,
                           [v.type for v in self.plan.tape_inputs.values()],
                           budgeted=self.plan.budget is not None)
        if not self.plan.fusions:
            return dce(adjoint)
        # CSE first (the reverse condition becomes the forward one), again after sharing
        return dce(cse(share_branch_values(cse(simplify(adjoint)))))

    def allocate_buffers(self, b: Builder) -> None:
        """x_bar = np.zeros_like(x) for each active array (and each differentiated one)."""
        wanted = [self.fn.params[k] for k in self.wrt]
        for op in walk_ops(self.fn.body):
            for r in op.results:
                made = op.prim.fresh_array and not op.attrs.get("snapshot")
                mutable = made or r in self.written or r in self.read_by_element
                if r.type.is_array and self.active(r) and mutable:
                    info = self.plan.region_of(r)
                    if info.parent is None:
                        wanted.append(r)
                    else:  # made in a branch or a loop: its buffer is made where that
                        # region's run reverses (a fresh one for each run)
                        self.branch_arrays.setdefault(info.region, []).append(r)
        wanted += [p for p in self.fn.params if p.type.is_array and self.active(p)]
        for array in wanted:
            if array.type.is_array and array not in self.buffers:
                self.buffers[array] = b(zeros_like_p, array, hint=array.hint + "_bar")

    def reverse_ops(self, region: Region, b: Builder, adj: dict) -> None:
        for op in reversed(region.ops):
            if op.prim.terminator or not op.prim.differentiable:
                continue
            b.loc = op.loc
            if op.prim.reverse is not None:  # writes and region ops
                op.prim.reverse(self, op, b, adj)
            elif op.results and op.results[0] in adj:
                self.reverse_simple(op, b, adj, adj.pop(op.results[0]))
            elif op.results and op.results[0] in self.buffers:
                self.reverse_simple(op, b, adj, self.buffers[op.results[0]])
            elif not op.results and op.operands and self.active(op.operands[0]):
                # an effect on an active array that no rule reverses: skipping it would
                # drop its contribution to the gradient
                raise UnsupportedOperationError(
                    f"reverse mode: '{op.prim.name}' changes an array with a derivative and "
                    "has no reverse rule", op.loc)

    def reverse_simple(self, op: Op, b: Builder, adj: dict, g) -> None:
        if op.prim.vjp is None:
            raise UnsupportedOperationError(f"'{op.prim.name}' has no derivative rule", op.loc)
        for position, (operand, thunk) in enumerate(zip(op.operands, op.prim.vjp(b, op, g))):
            if thunk is None or not self.active(operand):
                continue
            contribution = thunk()
            if isinstance(contribution, (Scatter, WholeArray)) and operand not in self.buffers:
                # an array whose adjoint is a value (carried around a loop), not a buffer
                self.accumulate(b, adj, operand, dense_contribution(
                    b, operand, contribution, self.scatter_prim_for))
            elif isinstance(contribution, Scatter):
                prim = contribution.prim or self.scatter_prim_for(operand, contribution.indices)
                b.op(prim, self.buffer(operand), *contribution.indices, contribution.g,
                     attrs=contribution.attrs, result_types=[])
            elif isinstance(contribution, WholeArray):
                b.op(array_add_p, self.buffer(operand), contribution.g, result_types=[])
            elif op.attrs.get("shape_of") == position:  # the contribution has its shape
                self.accumulate(b, adj, operand, contribution)
            else:
                self.accumulate(b, adj, operand, unbroadcast(b, contribution, operand, op))

    def checkpointed(self, op: Op) -> bool:
        """Checkpoint counted loops of the function body that record a tape, when asked to
        (checkpoint="auto" is decided per call by the API: this code with "sqrt" is its
        fallback when the full tape passes the budget)."""
        return self.checkpoint is not None and op.prim is for_p \
            and self.plan.op_region[op] is self.fn.body and self.plan.tapes_under(op)

    def read_is_final(self, read: Op, operand=None) -> bool:
        """Whether no write into the array (`operand`, else the first) can follow this read
        (every write is in an earlier top-level statement), so the reverse sweep may read the
        element or the array again."""
        array = (read.operands[0] if operand is None else operand)
        return array not in self.written or \
            self.statement_of[read] > self.last_write[array]

    def touches_active_arrays(self, op: Op) -> bool:
        """Whether `op`'s regions read or write an active array (the reverse must run even
        when no scalar adjoint is carried through)."""
        return any((_reads_part(inner) or inner.prim.writes)
                   and self.active(inner.operands[0])
                   for sub in op.regions for inner in walk_ops(sub))

    def unbroadcast(self, b: Builder, g, operand, op=None):
        return unbroadcast(b, g, operand, op)

    def scatter_prim(self, indices):
        """`index_add`, or in a kernel `atomic_add` unless the element is the thread's own
        (indexed by its cuda.grid(1) index)."""
        if not self.kernel or self._own_index(indices):
            return index_add_p
        return atomic_add_p

    def _own_index(self, indices) -> bool:
        producer = self.producer.get(indices[0]) if len(indices) == 1 else None
        return producer is not None and producer.prim is grid_p and \
            producer.attrs["ndim"] == 1

    def scatter_prim_for(self, array, indices):
        """A plain add only where no other thread can touch the element: every read of the
        array in the kernel is at the thread's own cuda.grid(1) index."""
        if self.kernel and not all(self._own_index(op.operands[1:]) for op in
                                   walk_ops(self.fn.body) if op.prim is getitem_p
                                   and op.operands[0] is array):
            return atomic_add_p
        return self.scatter_prim(indices)

    def free_adjoints(self, op: Op, arrays: bool = False) -> list[Value]:
        """Active scalars (and with `arrays`, arrays without a buffer) read inside `op`'s
        regions but defined outside it."""
        regions = [r for sub in op.regions for r, _ in walk_regions(sub)]
        inside = {v for region in regions for v in region.args}
        inside |= {r for sub in op.regions for o in walk_ops(sub) for r in o.results}
        free: dict[Value, Value] = {}
        for sub in op.regions:
            for o in walk_ops(sub):
                for v in o.operands:
                    if v not in inside and self.active(v) and (not v.type.is_array or
                                                                   arrays and v not in
                                                                   self.buffers):
                        free.setdefault(v, v)
        return list(free.values())

    def _open(self, region: Region, popped=None) -> ReverseContext:
        ctx = ReverseContext(self.plan.info[region], popped)
        self.contexts[region] = ctx
        return ctx

    def _close(self, ctx: ReverseContext, built: Region) -> None:
        del self.contexts[ctx.info.region]
        head = self.plan.loads(ctx.info, ctx.loaded) if ctx.loaded else []
        built.ops[:0] = head + ctx.prelude

    def reverse_region(self, primal: Region, b: Builder, adj: dict, seeds, args=(),
                       popped=None):
        """Start the reverse of `primal`: returns (region, context, builder, adjoints); the
        caller appends the yield, then closes the context."""
        region = Region(list(args))
        ctx = self._open(primal, popped)
        inner = b.child(region)
        for array in self.branch_arrays.get(primal, ()):
            self.buffers[array] = inner(zeros_like_p, array, hint=array.hint + "_bar")
        local = dict(adj)
        for v, g in seeds:
            if g is not None:
                self.accumulate(inner, local, v, g)
        self.reverse_ops(primal, inner, local)
        return region, ctx, inner, local

    def reverse_if(self, op: Op, b: Builder, adj: dict) -> None:
        gs = [self.buffers.get(r) or adj.pop(r, None) for r in op.results]
        frees = self.free_adjoints(op, arrays=True)
        branches = [self.reverse_region(primal, b, adj, zip(primal.ops[-1].operands, gs))
                    for primal in op.regions]
        changed = []
        for f in frees:
            values = {(local.get(f)): local.get(f) for *_, local in branches}
            if len(values) > 1:
                changed.append(f)
            elif None not in values.values() and not self._defined_in(values, branches):
                adj[f] = next(iter(values.values()))  # the same outside value either way
        for region, ctx, inner, local in branches:
            inner.op(yield_p, *(local.get(f) or _zero(inner, f) for f in changed),
                     result_types=[])
            self._close(ctx, region)
        regions = [branch[0] for branch in branches]
        if not changed and all(len(r.ops) == 1 for r in regions):
            return
        rev = b.op(if_p, op.operands[0], regions=regions,
                   result_types=[_adjoint_type(f) for f in changed])
        for f, r in zip(changed, rev.results):
            r.hint = f.hint + "_bar"
            adj[f] = r

    @staticmethod
    def _defined_in(values: dict, branches) -> bool:
        inside = {r for region, *_ in branches for o in walk_ops(region) for r in o.results}
        return any(key in inside for key in values)

    def reverse_for(self, op: Op, b: Builder, adj: dict) -> None:
        lb, ub, step, *inits = op.operands
        body = op.regions[0]
        index = Value(I64, body.args[0].hint)
        self.reverse_loop(op, b, adj, body, body.args[1:], inits, index,
                          {body.args[0]: index}, lambda: reversed_range(b, lb, ub, step))

    def reverse_while(self, op: Op, b: Builder, adj: dict) -> None:
        """A while loop runs backwards as a for loop over its recorded trip count."""
        body = op.regions[1]
        count = self.plan.trip_count(op)
        self.reverse_loop(op, b, adj, body, body.args, op.operands, Value(I64, "it"), {},
                          lambda: (const(0), count, const(1)))

    def reverse_loop(self, op, b, adj, body, carried_args, inits, index, popped, bounds):
        carried = [j for j, (a, r) in enumerate(zip(carried_args, op.results))
                   if self.active(a) or self.active(r)]
        if not carried and not self.touches_active_arrays(op):
            return
        for j in carried:
            if carried_args[j].type.is_array and (carried_args[j] in self.buffers or
                                                  op.results[j] in self.buffers):
                raise UnsupportedOperationError("an array carried through a loop cannot be "
                                                "read by element or written", op.loc)
        gs = [adj.pop(op.results[j], None) for j in carried]
        frees = self.free_adjoints(op, arrays=True)  # arrays: an outer loop's carried ones
        # carried arrays carry array adjoints (zeros where no adjoint reaches them)
        args = [Value(_adjoint_type(v), v.hint + "_bar")
                for v in [carried_args[j] for j in carried] + frees]
        inner_adj = dict(adj)
        inner_adj.update((f, a) for f, a in zip(frees, args[len(carried):]))
        yielded = body.ops[-1].operands
        seeds = [(yielded[j], a) for j, a in zip(carried, args)]
        region, ctx, inner, local = self.reverse_region(body, b, inner_adj, seeds,
                                                        [index] + args, popped)
        outs = [local.get(carried_args[j]) or _zero(inner, carried_args[j])
                for j in carried]
        outs += [local[f] for f in frees]
        inner.op(yield_p, *outs, result_types=[])
        self._close(ctx, region)
        starts = [g or _zero(b, op.results[j]) for j, g in zip(carried, gs)]
        starts += [adj.get(f) or _zero(b, f) for f in frees]
        arrays = any(a.type.is_array for a in args)
        if not arrays and fusable(self, op, carried, gs, region, outs, args):
            totals = [Value(_adjoint_type(f), f.hint + "_bar") for f in frees]
            region = untaped(region, ctx)
            self.plan.fusions[op] = Fusion(region, [g or ZERO for g in gs], totals)
            for f, total in zip(frees, totals):
                self.accumulate(b, adj, f, total)
            for j, g in zip(carried, gs):
                self.accumulate(b, adj, inits[j], g or ZERO)
            return
        if self.checkpointed(op):
            ck = checkpoint.plan(op, self.checkpoint, self.plan.namer, self.written,
                                 self.plan.shape_may_vary)
            self.plan.checkpoints[op] = ck
            recorded = self.plan.forward_sweep(body, record=True)
            rev = checkpoint.reverse_segments(ck, b, recorded, region, starts, reversed_range)
        else:
            counter = ctx.info.counter if ctx.loaded else None
            forwards = op.prim is for_p and not self.kernel \
                and independent_iterations(region, len(carried), counter)
            if forwards and counter is not None:
                count = b(trip_count_p, *op.operands[:3], hint="n_" + index.hint)
                region, step_back, again = in_push_order(region, counter, count)
                b.region.ops.append(step_back)
            rev = b.op(for_p, *(op.operands[:3] if forwards else bounds()), *starts,
                       regions=[region], result_types=[a.type for a in args])
            if forwards and counter is not None:
                b.region.ops.append(again)
        for value, arg in zip(rev.results, args):
            value.hint = arg.hint
        adj.update((f, r) for f, r in zip(frees, rev.results[len(carried):]))
        for j, value in zip(carried, rev.results):
            self.accumulate(b, adj, inits[j], value)  # after the frees: an init may be one


ZERO = const(0.0)


def _zero(b: Builder, v: Value):
    return b(zeros_like_p, v, hint=v.hint + "_bar") if v.type.is_array else ZERO


def _as_type(b: Builder, g: Value, t: Type) -> Value:
    """A number's gradient `g` in its argument's precision (a Python float's gradient is a
    Python float, however float32 the arithmetic it went through)."""
    if g.type.bits == t.bits:
        return g
    if isinstance(g, Const):
        return const(float(g.value), t)
    return b(cast_float_p, g, attrs=bits_attrs(t), hint=g.hint)


def _adjoint_type(v: Value):
    """An adjoint has its primal's type (a float of its precision)."""
    return Type("float", v.type.ndim, v.type.bits, v.type.weak)


def _reads_part(op: Op) -> bool:
    """Whether `op` reads elements of its first operand (x[i], x[a:b], x[idx])."""
    return op.prim.element_read or op.prim.gathers


def reversed_range(b: Builder, lb, ub, step):
    """Bounds of range(lb, ub, step) run backwards."""
    if getattr(step, "value", None) in (1, -1):
        return b.sub(ub, step), b.sub(lb, step), b.neg(step)
    n = b(trip_count_p, lb, ub, step)
    last = b.add(lb, b.mul(b.sub(n, const(1)), step))
    return last, b.sub(lb, step), b.neg(step)


def _check_scalar_output(fn: Function) -> None:
    ret = fn.body.ops[-1]
    if len(ret.operands) != 1 or ret.operands[0].type.is_array \
            or not ret.operands[0].type.is_float:
        raise UnsupportedOperationError(
            "grad needs a function that returns one float; use vjp or jacrev for other outputs",
            ret.loc)


def reverse_mode(fn: Function, wrt: list[int], name: str | None = None,
                 seeded: bool = False, checkpoint=None, reuse_tapes: bool = False,
                 budget: bool = False) -> Function:
    """The adjoint of `fn`: returns (outputs..., gradient w.r.t. each of `wrt`). With
    `seeded`, it takes the outputs' cotangents as extra trailing arguments (vjp). With
    `checkpoint` (an int K or "sqrt"), top-level counted loops store their state every K
    steps instead of a full tape (ad.checkpoint). With `reuse_tapes`, the tapes allocated in
    the function body are trailing arguments and results: the caller hands back the last
    call's arrays, so repeated calls reuse their memory. With `budget`, every tape, checkpoint
    and tape growth is charged against a tape budget in bytes, the last argument, before it
    is allocated (ad.tape). `fn` itself is left unchanged."""
    fn = snapshot_overwritten_operands(fn, wrt)
    transform = ReverseTransform(fn, wrt, checkpoint, reuse_tapes=reuse_tapes, budget=budget)
    return transform.run(name or fn.name + ("_vjp" if seeded else "_grad"), seeded)


# the reverse rules of the region ops (those of writes are with their primitives)
if_p.reverse = ReverseTransform.reverse_if
for_p.reverse = ReverseTransform.reverse_for
while_p.reverse = ReverseTransform.reverse_while
