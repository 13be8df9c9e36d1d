"""Integer polynomials over SSA values, for strength reduction of index arithmetic.

A `Polynomial` is an exact sum of monomials: rational coefficients (fractions.Fraction) times
products of powers of atoms (IR values, compared by identity). Primitives that compute one
from the polynomials of their operands declare a `polynomial` rule (primitives/arith.py:
`+ - *`, negation, and `//` by a positive constant when the quotient is exact for every
integer value of the atoms). transforms/strength.py uses them to see that an index such as
`c * d - c * (c + 1) // 2 + r` is a polynomial of degree 2 in a loop's index `c` and to
update it by its finite differences instead of evaluating it in every iteration.

Exact division: a polynomial with rational coefficients takes integer values at every integer
point if and only if its coefficients in the basis of products of binomials C(x, k) are
integers (G. Pólya, "Über ganzwertige ganze Funktionen", 1915); x^n = sum_k S(n, k) k! C(x, k),
with S the Stirling numbers of the second kind.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from math import factorial


class Polynomial:
    """sum of coefficient * prod(atom ** power); monomials are tuples of (atom key, power)
    sorted by key. `atoms` maps a key to its value; keys give a deterministic order."""

    __slots__ = ("atoms", "terms")

    def __init__(self, terms: dict, atoms: dict):
        self.terms = {m: c for m, c in terms.items() if c != 0}
        self.atoms = atoms

    @classmethod
    def constant(cls, value) -> Polynomial:
        return cls({(): Fraction(value)}, {})

    @classmethod
    def atom(cls, key: int, value) -> Polynomial:
        return cls({((key, 1),): Fraction(1)}, {key: value})

    def __add__(self, other: Polynomial) -> Polynomial:
        terms = dict(self.terms)
        for m, c in other.terms.items():
            terms[m] = terms.get(m, 0) + c
        return Polynomial(terms, {**self.atoms, **other.atoms})

    def __neg__(self) -> Polynomial:
        return Polynomial({m: -c for m, c in self.terms.items()}, self.atoms)

    def __sub__(self, other: Polynomial) -> Polynomial:
        return self + (-other)

    def __mul__(self, other: Polynomial) -> Polynomial:
        terms: dict = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                m = _monomial_product(m1, m2)
                terms[m] = terms.get(m, 0) + c1 * c2
        return Polynomial(terms, {**self.atoms, **other.atoms})

    def exact_div(self, k: int) -> Polynomial | None:
        """self / k when that is an integer at every integer point, else None."""
        quotient = Polynomial({m: c / k for m, c in self.terms.items()}, self.atoms)
        return quotient if quotient.integer_valued() else None

    def degree(self, key: int) -> int:
        return max((dict(m).get(key, 0) for m in self.terms), default=0)

    def substitute(self, key: int, replacement: Polynomial) -> Polynomial:
        """The polynomial with atom `key` replaced by `replacement`."""
        out = Polynomial({}, {})
        for m, c in self.terms.items():
            term = Polynomial({tuple(a for a in m if a[0] != key): c}, self.atoms)
            for _ in range(dict(m).get(key, 0)):
                term = term * replacement
            out = out + term
        return out

    def integer_coefficients(self) -> bool:
        return all(c.denominator == 1 for c in self.terms.values())

    def integer_valued(self) -> bool:
        binomial: dict = {}
        for m, c in self.terms.items():
            expansion = {(): c}
            for key, power in m:
                expansion = {base + ((key, k),): coefficient * _stirling(power, k) * factorial(k)
                             for base, coefficient in expansion.items()
                             for k in range(1, power + 1)}
            for b, coefficient in expansion.items():
                binomial[b] = binomial.get(b, 0) + coefficient
        return all(Fraction(c).denominator == 1 for c in binomial.values())


def _monomial_product(m1: tuple, m2: tuple) -> tuple:
    powers = dict(m1)
    for key, power in m2:
        powers[key] = powers.get(key, 0) + power
    return tuple(sorted(powers.items()))


@cache
def _stirling(n: int, k: int) -> int:
    """Stirling number of the second kind S(n, k)."""
    if n == k:
        return 1
    if k == 0 or k > n:
        return 0
    return k * _stirling(n - 1, k) + _stirling(n - 1, k - 1)
