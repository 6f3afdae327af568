"""What a specification holds: the functions asked for, their examples, the definitions."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FunctionSpec:
    """A function the request defines or asks for."""

    name: str
    params: tuple[str, ...]
    stub: bool
    """True when its body is only a docstring, `pass`, `...` or `raise NotImplementedError`."""
    docstring: str


@dataclass(frozen=True)
class Example:
    """One example of the specification: a call and the value (or output) it must give."""

    call: str
    """A Python expression calling a function of the spec."""
    expected: str
    """The expected value as Python source (a literal), or the expected printed text."""
    line: int
    """Line of the request where the example is written (1-based)."""
    setup: tuple[str, ...] = ()
    """Doctest statements that run before the call."""
    as_text: bool = False
    """True when `expected` is text to compare with the value's repr or printed output."""

    def describe(self) -> str:
        """The example as one line: `f(1) == 2`."""
        return f"{self.call} == {self.expected}"


@dataclass(frozen=True)
class Spec:
    """What a request specifies for the code that answers it."""

    code: str
    """Definitions from the request (imports, functions, constants) run before a solution."""
    functions: tuple[FunctionSpec, ...] = ()
    examples: tuple[Example, ...] = ()
    source: str = ""
    """The request's Python exactly as written (shown to the coder verbatim)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Examples that were found but left out, and why."""

    @property
    def targets(self) -> tuple[FunctionSpec, ...]:
        """The functions a solution must define: the stubs, else every function given."""
        stubs = tuple(f for f in self.functions if f.stub)
        return stubs or self.functions

    @property
    def is_function_task(self) -> bool:
        """True when the request asks for functions (checked by calling them)."""
        return bool(self.functions)
