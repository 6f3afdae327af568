"""What a coding request specifies: the functions to write, their examples, the output asked for.

Checks of model-written code must come from the specification, never from the model that
wrote the code (a test the coder invents encodes its own mistake). `read_spec` reads a
request, in any language, and finds:

- the Python it contains (fenced blocks, or the request itself when it is code), and in it
  the functions to implement (stubs: a signature and a docstring) and the definitions the
  solution may rely on (imports, helper functions, constants);
- the examples the request gives for those functions, in the shapes people write them:
  doctests (`>>> f(1)` then `2`), `f(1) == 2`, `f(1) => 2`, `f(1) ➞ 2`, `f(1) -> 2`,
  `f(1) # returns 2`, `f(1) should return 2`, `Input: 1` / `Output: 2` pairs, and
  `For x = 1 the output should be 2`. An example whose arguments or expected value are
  not plain values (`f(a)` with `a` undefined) is left out rather than guessed.

Everything here is pure: text in, data out. The parts: `model` (the dataclasses),
`values` (plain values), `definitions` (the code in the request), `examples` (the
examples around it), `reader` (`read_spec`, which gathers them).
"""

from __future__ import annotations

from tools.spec.definitions import definitions_only
from tools.spec.examples import INPUT_OUTPUT_GAP
from tools.spec.model import Example, FunctionSpec, Spec
from tools.spec.reader import MAX_EXAMPLES, read_spec
from tools.spec.values import MAX_EXAMPLE_CHARS, literal

__all__ = [
    "INPUT_OUTPUT_GAP",
    "MAX_EXAMPLES",
    "MAX_EXAMPLE_CHARS",
    "Example",
    "FunctionSpec",
    "Spec",
    "definitions_only",
    "literal",
    "read_spec",
]
