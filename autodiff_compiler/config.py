"""Settings of autodiff_compiler that can be changed at run time, as module attributes.

>>> import autodiff_compiler
>>> autodiff_compiler.config.show_internal_frames
False
"""

from __future__ import annotations

#: Tracebacks of errors raised through the transforms (grad, jacfwd, ...) leave out the
#: compiler's own frames (as JAX does), so that they end at the user's code and the caret
#: that points into it. Set this to True to see every frame (to debug the compiler itself).
show_internal_frames: bool = False
