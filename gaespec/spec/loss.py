"""The loss language: `loss = "recon + beta * kl"`, parsed by the grammar in `loss.lark` into an
immutable expression tree that is evaluated in-process and printed as a formula or as Python.

Importing this module never imports torch, and no part of an expression is ever passed to `eval`.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from gaespec.errors import LossSyntaxError, SpecError
from gaespec.spec.schedules import SCHEDULES, Schedule


def _power(base, exponent):
    value = base**exponent
    # Python answers a negative number to a fractional power with a complex number
    if isinstance(value, complex):
        raise ValueError(f"({base:g}) ** {exponent:g} is not a real number")
    return value


_UNARY_OPS = {"-": operator.neg, "+": operator.pos}
_BINARY_OPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": _power,
}
# Far deeper than any loss: the walks over a tree recurse, and Python's stack is finite.
MAX_DEPTH = 100


# ---- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal."""

    value: float


@dataclass(frozen=True, slots=True)
class Name:
    """A term, param or schedule, looked up by name when evaluated."""

    id: str


@dataclass(frozen=True, slots=True)
class Unary:
    """`-operand` or `+operand`."""

    op: str
    operand: Expr

    def __post_init__(self):
        if self.op not in _UNARY_OPS:
            raise ValueError(f"unknown unary operator {self.op!r}")


@dataclass(frozen=True, slots=True)
class Binary:
    """`left op right` for op in + - * / **."""

    op: str
    left: Expr
    right: Expr

    def __post_init__(self):
        if self.op not in _BINARY_OPS:
            raise ValueError(f"unknown binary operator {self.op!r}")


@dataclass(frozen=True, slots=True)
class Call:
    """`func(args...)`: a math function or a schedule."""

    func: str
    args: tuple[Expr, ...]

    def __post_init__(self):
        object.__setattr__(self, "args", tuple(self.args))


Expr = Number | Name | Unary | Binary | Call


# ---- the functions --------------------------------------------------------------------------


def _torch():
    import torch  # lazily: parsing, printing and evaluating on floats never need torch

    return torch


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real)


def _as_tensor_like(value, like):
    """A number as a tensor of `like`'s dtype and device: a bound beyond the dtype's range
    becomes ±inf there (torch refuses such a number as a scalar bound)."""
    return _torch().as_tensor(value, dtype=like.dtype, device=like.device)


def _tensor_min(a, b):
    if _is_number(a):
        a, b = b, a
    return _torch().minimum(a, _as_tensor_like(b, a) if _is_number(b) else b)


def _tensor_max(a, b):
    if _is_number(a):
        a, b = b, a
    return _torch().maximum(a, _as_tensor_like(b, a) if _is_number(b) else b)


def _tensor_clamp(x, lo, hi):
    # torch.clamp takes both bounds as numbers or both as tensors: numbers become tensors of the
    # first tensor's dtype and device
    like = next(v for v in (x, lo, hi) if not _is_number(v))
    x, lo, hi = (_as_tensor_like(v, like) if _is_number(v) else v for v in (x, lo, hi))
    return _torch().clamp(x, lo, hi)


# A source function prints a call as Python: `src` are the arguments' sources, `number` says
# which of them are plain numbers at run time (the evaluator picks math or torch the same way).
Source = Callable[[list[str], list[bool]], str]


def _unary_source(number_fn: str, tensor_fn: str) -> Source:
    def source(src: list[str], number: list[bool]) -> str:
        return f"{number_fn if number[0] else tensor_fn}({src[0]})"

    return source


def _tensor_like_source(value: str, like: str) -> str:
    """Source of _as_tensor_like(value, like)."""
    like = like if like.isidentifier() else f"({like})"
    return f"torch.as_tensor({value}, dtype={like}.dtype, device={like}.device)"


def _extremum_source(builtin: str, fn: str) -> Source:
    def source(src: list[str], number: list[bool]) -> str:
        a, b = number
        if a and b:
            return f"{builtin}({src[0]}, {src[1]})"
        if a or b:
            tensor, value = (src[1], src[0]) if a else (src[0], src[1])
            return f"torch.{fn}({tensor}, {_tensor_like_source(value, tensor)})"
        return f"torch.{fn}({src[0]}, {src[1]})"

    return source


def _clamp_source(src: list[str], number: list[bool]) -> str:
    if all(number):
        return f"min(max({src[0]}, {src[1]}), {src[2]})"
    like = src[number.index(False)]
    args = [_tensor_like_source(s, like) if n else s for s, n in zip(src, number, strict=True)]
    return f"torch.clamp({', '.join(args)})"


@dataclass(frozen=True)
class _Function:
    """A math function: on Python numbers, on tensors, and as Python source for codegen."""

    params: tuple[str, ...]
    number: Callable[..., Any]
    tensor: Callable[..., Any]
    source: Source

    @property
    def min_args(self) -> int:
        return len(self.params)

    @property
    def max_args(self) -> int:
        return len(self.params)

    @property
    def signature(self) -> str:
        return ", ".join(self.params)


_FUNCTIONS: dict[str, _Function] = {
    "abs": _Function(("x",), abs, lambda x: _torch().abs(x), _unary_source("abs", "torch.abs")),
    "min": _Function(("a", "b"), min, _tensor_min, _extremum_source("min", "minimum")),
    "max": _Function(("a", "b"), max, _tensor_max, _extremum_source("max", "maximum")),
    "exp": _Function(
        ("x",), math.exp, lambda x: _torch().exp(x), _unary_source("math.exp", "torch.exp")
    ),
    "log": _Function(
        ("x",), math.log, lambda x: _torch().log(x), _unary_source("math.log", "torch.log")
    ),
    "sqrt": _Function(
        ("x",), math.sqrt, lambda x: _torch().sqrt(x), _unary_source("math.sqrt", "torch.sqrt")
    ),
    "clamp": _Function(
        ("x", "lo", "hi"),
        lambda x, lo, hi: min(max(x, lo), hi),
        _tensor_clamp,
        _clamp_source,
    ),
}


def _callee(func: str) -> _Function | Schedule | None:
    """The math function or schedule called `func`, or None."""
    return _FUNCTIONS.get(func) or SCHEDULES.get(func)


def _is_constant(expr: Expr) -> bool:
    match expr:
        case Number():
            return True
        case Unary(_, operand):
            return _is_constant(operand)
        case Binary(_, left, right):
            return _is_constant(left) and _is_constant(right)
    return False


# ---- parsing --------------------------------------------------------------------------------


@functools.cache
def _parser() -> Lark:
    return Lark.open("loss.lark", rel_to=__file__, parser="lalr", propagate_positions=True)


class _Fault(Exception):
    """A call the grammar accepts but the language does not, at a place in the text."""

    def __init__(self, message: str, line: int, column: int, name=None, choices=None):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column
        self.name, self.choices = name, choices


class _Arg(NamedTuple):
    expr: Expr
    line: int
    column: int


def _count(lo: int, hi: int) -> str:
    if lo == hi:
        return f"{lo} argument" + ("" if lo == 1 else "s")
    return f"{lo} {'or' if hi == lo + 1 else 'to'} {hi} arguments"


def _check_call(name: Token, args: tuple[_Arg, ...]) -> None:
    func = str(name)
    callee = _callee(func)
    if callee is None:
        known = sorted({*_FUNCTIONS, *SCHEDULES})
        raise _Fault(
            f"unknown function '{func}' in loss expression (known: {', '.join(known)})",
            name.line,
            name.column,
            func,
            known,
        )
    if not callee.min_args <= len(args) <= callee.max_args:
        raise _Fault(
            f"{func}() takes {_count(callee.min_args, callee.max_args)} ({callee.signature}), "
            f"got {len(args)}",
            name.line,
            name.column,
        )
    if func not in SCHEDULES:
        return
    for param, arg in zip(callee.params, args, strict=False):
        if not _is_constant(arg.expr):
            raise _Fault(
                f"{func}() argument '{param}' must be a constant number, "
                f"got '{to_formula(arg.expr)}'",
                arg.line,
                arg.column,
            )
    # a schedule's arguments are fixed: check their values now, not at the first training step
    try:
        values = [_compile(arg.expr)({}, 0) for arg in args]
    except (ArithmeticError, ValueError) as e:
        raise _Fault(
            f"{func}() arguments cannot be computed: {e}", name.line, name.column
        ) from None
    for param, arg, value in zip(callee.params, args, values, strict=False):
        if not math.isfinite(value):  # e.g. 1e300 * 1e300: the weight would be inf or nan
            raise _Fault(
                f"{func}() argument '{param}' is {value}, not a finite number",
                arg.line,
                arg.column,
            )
    try:
        callee(*values, step=0)
    except ValueError as e:
        raise _Fault(str(e), name.line, name.column) from None
    except ArithmeticError as e:
        raise _Fault(
            f"{func}() arguments cannot be computed: {e}", name.line, name.column
        ) from None


@v_args(inline=True)
class _ToExpr(Transformer):
    """Builds the tree from the parse tree, one method per grammar rule; checks every call."""

    def number(self, token: Token) -> Number:
        value = float(token)
        if not math.isfinite(value):
            raise _Fault(f"number {token} is too large", token.line, token.column)
        return Number(value)

    def name(self, token: Token) -> Name:
        return Name(str(token))

    def neg(self, operand: Expr) -> Unary:
        return Unary("-", operand)

    def pos(self, operand: Expr) -> Unary:
        return Unary("+", operand)

    def add(self, left: Expr, right: Expr) -> Binary:
        return Binary("+", left, right)

    def sub(self, left: Expr, right: Expr) -> Binary:
        return Binary("-", left, right)

    def mul(self, left: Expr, right: Expr) -> Binary:
        return Binary("*", left, right)

    def div(self, left: Expr, right: Expr) -> Binary:
        return Binary("/", left, right)

    def pow(self, left: Expr, right: Expr) -> Binary:
        return Binary("**", left, right)

    @v_args(meta=True)
    def argument(self, meta, children) -> _Arg:
        return _Arg(children[0], meta.line, meta.column)

    def arguments(self, *args: _Arg) -> tuple[_Arg, ...]:
        return args

    def call(self, name: Token, arguments: tuple[_Arg, ...] | None) -> Call:
        args = arguments or ()
        _check_call(name, args)
        return Call(str(name), tuple(arg.expr for arg in args))


def _context(text: str, line: int, column: int) -> str:
    source = text.split("\n")[line - 1].rstrip("\r")
    pad = "".join(c if c == "\t" else " " for c in source[: column - 1])
    return f"    {source}\n    {pad}^"


def _describe(error: UnexpectedInput, text: str) -> tuple[str, int, int]:
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream]
        return f"unexpected character '{char}' in loss expression", error.line, error.column
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        return f"unexpected '{error.token}' in loss expression", error.line, error.column
    # lark places the end on the last token; the caret belongs just after the last character
    end = len(text.rstrip())
    line = text.count("\n", 0, end) + 1
    return "unexpected end of loss expression", line, end - text.rfind("\n", 0, end)


def _too_deep(tree: Tree) -> Tree | None:
    """The leftmost subtree nested deeper than MAX_DEPTH operations or calls, if any (walked
    without recursion: the point is to refuse trees too deep for the recursive walks)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node
        for child in reversed(node.children):
            if isinstance(child, Tree):
                # a call's argument list is part of the call, not a level of its own
                stack.append((child, depth + (child.data not in ("arguments", "argument"))))
    return None


def parse_loss(text: str, *, file: str | None = None, key: str | None = None) -> Expr:
    """Parse a loss expression into its tree; a fault raises LossSyntaxError with a caret under it
    (line and column count within `text`)."""
    if not text.strip():
        raise LossSyntaxError(
            "empty loss expression", file=file, key=key, fix='write e.g. loss = "recon + kl"'
        )
    try:
        tree = _parser().parse(text)
        deep = _too_deep(tree)
        if deep is not None:
            raise _Fault(
                f"loss expression nests deeper than {MAX_DEPTH} levels",
                deep.meta.line,
                deep.meta.column,
            )
        return _ToExpr().transform(tree)
    except _Fault as e:
        fault = e
    except UnexpectedInput as e:
        message, line, column = _describe(e, text)
        fault = _Fault(message, line, column)
    except VisitError as e:
        if not isinstance(e.orig_exc, _Fault):
            raise
        fault = e.orig_exc
    where = f"column {fault.column}"
    if "\n" in text:
        where = f"line {fault.line} {where}"
    raise LossSyntaxError(
        f"{fault.message} at {where} of {text.strip()!r}",
        file=file,
        key=key,
        line=fault.line,
        column=fault.column,
        context=_context(text, fault.line, fault.column),
        name=fault.name,
        choices=fault.choices,
    )


# ---- reading the tree -----------------------------------------------------------------------


def free_names(expr: Expr) -> frozenset[str]:
    """The names `expr` refers to (terms, params, schedules), not the functions it calls."""
    match expr:
        case Name(id):
            return frozenset((id,))
        case Number():
            return frozenset()
        case Unary(_, operand):
            return free_names(operand)
        case Binary(_, left, right):
            return free_names(left) | free_names(right)
        case Call(_, args):
            return frozenset().union(*map(free_names, args))
    raise TypeError(f"not a loss expression: {expr!r}")


def called(expr: Expr) -> frozenset[str]:
    """The functions and schedules that `expr` calls."""
    match expr:
        case Number() | Name():
            return frozenset()
        case Unary(_, operand):
            return called(operand)
        case Binary(_, left, right):
            return called(left) | called(right)
        case Call(func, args):
            return frozenset({func}).union(*map(called, args))
    raise TypeError(f"not a loss expression: {expr!r}")


# An expression compiles once into nested closures, each taking (env, step): a training step
# then walks no tree (the tree walk cost a composed model tens of microseconds a step).
Evaluator = Callable[[Mapping[str, object], int], Any]


def _unknown(id: str, env: Mapping[str, object]) -> SpecError:
    return SpecError(f"loss expression refers to unknown name '{id}'", name=id, choices=env)


def _function_call(function: _Function, parts: tuple[Evaluator, ...]) -> Evaluator:
    def call(env, step):
        values = [part(env, step) for part in parts]
        if all(map(_is_number, values)):
            return function.number(*values)
        return function.tensor(*values)

    return call


def _compile(expr: Expr) -> Evaluator:
    match expr:
        case Number(value):
            return lambda env, step: value
        case Name(id):

            def name(env, step):
                try:
                    return env[id]
                except KeyError:
                    raise _unknown(id, env) from None

            return name
        case Unary(op, operand):
            unary, inner = _UNARY_OPS[op], _compile(operand)
            return lambda env, step: unary(inner(env, step))
        case Binary(op, left, right):
            binary, first, second = _BINARY_OPS[op], _compile(left), _compile(right)
            return lambda env, step: binary(first(env, step), second(env, step))
        case Call(func, args):
            parts = tuple(map(_compile, args))
            if func in SCHEDULES:
                schedule = SCHEDULES[func]
                return lambda env, step: schedule(*(part(env, step) for part in parts), step=step)
            if func not in _FUNCTIONS:
                raise SpecError(f"unknown function '{func}' in loss expression")
            return _function_call(_FUNCTIONS[func], parts)
    raise TypeError(f"not a loss expression: {expr!r}")


@functools.lru_cache(maxsize=1024)
def compile_loss(expr: Expr) -> Callable[..., Any]:
    """`expr` as a function of (env, *, step): its value at step `step`, its names bound in
    `env` (numbers or tensors). Made once per expression."""
    run = _compile(expr)

    def loss(env: Mapping[str, object], *, step: int):
        try:
            return run(env, step)
        except (ArithmeticError, ValueError) as e:
            raise SpecError(
                f"cannot evaluate loss '{to_formula(expr)}' at step {step}: {e}"
            ) from None

    return loss


def evaluate(expr: Expr, env: Mapping[str, object], *, step: int):
    """The value of `expr` at step `step`, its names bound in `env` (numbers or tensors)."""
    return compile_loss(expr)(env, step=step)


# ---- printing the tree ----------------------------------------------------------------------

# binding strength, loosest first, as in loss.lark
_SUM, _PRODUCT, _SIGN, _POWER, _ATOM = range(1, 6)
_STRENGTH = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "**": _POWER}


def _strength(expr: Expr) -> int:
    match expr:
        case Binary(op):
            return _STRENGTH[op]
        case Unary():
            return _SIGN
        case Number(value) if value < 0:
            return _SIGN
    return _ATOM


def _format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def _render(
    expr: Expr,
    name: Callable[[str], str],
    call: Callable[[Call, list[str]], str],
    number: Callable[[float], str] = _format_number,
) -> str:
    def at_least(sub: Expr, strength: int) -> str:
        text = render(sub)
        return f"({text})" if _strength(sub) < strength else text

    def render(e: Expr) -> str:
        match e:
            case Number(value):
                return number(value)
            case Name(id):
                return name(id)
            case Unary(op, operand):
                return op + at_least(operand, _SIGN)
            case Binary("**", left, right):
                # right-associative, and its right side may carry a sign: a ** -b ** c
                return f"{at_least(left, _ATOM)} ** {at_least(right, _SIGN)}"
            case Binary(op, left, right):
                strength = _STRENGTH[op]
                return f"{at_least(left, strength)} {op} {at_least(right, strength + 1)}"
            case Call(_, args):
                return call(e, [render(arg) for arg in args])
        raise TypeError(f"not a loss expression: {e!r}")

    return render(expr)


def to_formula(expr: Expr) -> str:
    """Readable text for `expr` with the fewest parentheses; `parse_loss` reads it back equal."""
    return _render(expr, lambda id: id, lambda c, src: f"{c.func}({', '.join(src)})")


def _is_number_valued(expr: Expr, number: Callable[[str], bool]) -> bool:
    """Whether `expr` evaluates to a plain number, given which names are bound to numbers."""
    match expr:
        case Number():
            return True
        case Name(id):
            return number(id)
        case Unary(_, operand):
            return _is_number_valued(operand, number)
        case Binary(_, left, right):
            return _is_number_valued(left, number) and _is_number_valued(right, number)
        case Call(func, args):
            return func in SCHEDULES or all(_is_number_valued(a, number) for a in args)
    raise TypeError(f"not a loss expression: {expr!r}")


def to_python(
    expr: Expr,
    name: Callable[[str], str],
    *,
    number: Callable[[str], bool] = lambda id: False,
    step: str = "step",
) -> str:
    """Python source for `expr` that computes what `evaluate` does: numbers as floats (as
    parsed), names as `name(id)` (an atom), math on numbers through `math` and builtins, on
    tensors through torch (`number(id)` says which names hold numbers), schedules as
    `linear(..., step=<step>)`."""

    def call(c: Call, src: list[str]) -> str:
        if c.func in SCHEDULES:
            return f"{c.func}({', '.join([*src, f'step={step}'])})"
        return _FUNCTIONS[c.func].source(src, [_is_number_valued(a, number) for a in c.args])

    return _render(expr, name, call, lambda value: repr(float(value)))
