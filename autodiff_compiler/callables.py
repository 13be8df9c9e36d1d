"""What a transform may be applied to: a def or lambda, a functools.partial, a bound method.

A gradient (grad(g)) is read as a function calling it (nested.py). A partial's bound arguments and a method's `self` are not differentiated (as in JAX, where
they are closed over): they become leading arguments passed at every call, so argnums count
the remaining parameters. A method reads its `self` attributes as leading parameters
(frontend/methods.py), taken from the object at each call.
"""

from __future__ import annotations

import functools
import inspect


class Callee:
    """A callable taken apart: the Python function to read, and what is bound in front."""

    def __init__(self, f):
        args: tuple = ()
        kwargs: dict = {}
        while isinstance(f, functools.partial):
            args = tuple(f.args) + args
            kwargs = {**f.keywords, **kwargs}
            f = f.func
        if getattr(f, "__autodiff_transform__", False):  # a gradient, differentiated again
            from .nested import wrapper

            f = wrapper(f)
        self.owner = None
        if inspect.ismethod(f):
            self.owner = f.__self__
            f = f.__func__
        self.fn = f
        self.args = args
        self.kwargs = kwargs

    @property
    def is_method(self) -> bool:
        return self.owner is not None

    def leading(self, attributes) -> tuple:
        """The values passed before the user's arguments: self's attributes, then the
        partial's positional arguments."""
        own = tuple(_attribute(self.owner, a) for a in attributes) if self.is_method else ()
        return own + self.args


def _attribute(owner, name: str):
    try:
        return getattr(owner, name)
    except AttributeError:
        raise AttributeError(f"{type(owner).__name__} object has no attribute '{name}' "
                             "(read by the differentiated method)") from None


def signature(fn, attribute_params=None) -> inspect.Signature:
    """fn's signature; for a method's function (attribute_params given), with `self`
    replaced by the parameters of the attributes it reads."""
    sig = inspect.signature(fn)
    if attribute_params is None:
        return sig
    params = list(sig.parameters.values())
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    hoisted = [inspect.Parameter(n, kind) for n in attribute_params]
    return sig.replace(parameters=hoisted + params[1:])
