"""``Parameter`` and ``ParameterExpression`` in the original client's binary layouts.

A ``Parameter`` is QPY's parameter record: ``!H16s`` (name length, UUID) and the UTF-8 name.

A ``ParameterExpression`` uses the historical layout the original client wrote (QPY's
"version 3" expression record): ``!QQ`` (symbol count, expression length), the expression as a
SymPy ``srepr`` string, then per symbol ``!ccQ`` (symbol kind, value kind, value length), the
symbol's record and its value. The expression text is untrusted, so it is parsed here with
:mod:`ast` and a fixed vocabulary (``Add``, ``Mul``, ``Pow``, ``Symbol``, numbers and the
elementary functions) and rebuilt with qiskit's own arithmetic: nothing is evaluated, and no
SymPy or symengine is needed. Expressions serialized with symengine (binary) are refused.
"""

from __future__ import annotations

import ast
import cmath
import math
import struct
import uuid
from collections.abc import Callable
from typing import Any

from qiskit.circuit import Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.parametervector import ParameterVectorElement

from engine.errors import DecodeError, EncodeError
from engine.serialization.budget import Budget
from engine.serialization.policy import DecodeLimits

_PARAMETER = "!H16s"
_VECTOR_ELEMENT = "!HQ16sQ"
_EXPR_HEADER = "!QQ"
_EXPR_SYMBOL = "!ccQ"
_KIND_PARAMETER = b"p"
_KIND_VECTOR = b"v"
_KIND_EXPRESSION = b"e"
_KIND_INTEGER = b"i"
_KIND_FLOAT = b"f"
_KIND_COMPLEX = b"c"

Number = int | float | complex


# --- writing ---------------------------------------------------------------------------------


def parameter_record(parameter: Parameter) -> bytes:
    """QPY's record of a parameter (vector elements are written as plain parameters, as the
    original client does)."""
    name = parameter.name.encode("utf-8")
    return struct.pack(_PARAMETER, len(name), parameter.uuid.bytes) + name


def _symbol_record(symbol: Parameter) -> tuple[bytes, bytes]:
    if isinstance(symbol, ParameterVectorElement):
        vector = symbol.vector
        name = vector.name.encode("utf-8")
        record = struct.pack(
            _VECTOR_ELEMENT, len(name), len(vector), symbol.uuid.bytes, symbol.index
        )
        return _KIND_VECTOR, record + name
    return _KIND_PARAMETER, parameter_record(symbol)


def _number_srepr(value: Number) -> str:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return f"Integer({value})"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EncodeError(f"ParameterExpression: non-finite constant {value} cannot be written")
        return f"Float({repr(value)!r}, precision=53)"
    if isinstance(value, complex):
        real, imag = _number_srepr(value.real), _number_srepr(value.imag)
        return f"Add({real}, Mul({imag}, I))"
    raise EncodeError(f"ParameterExpression: unsupported constant {value!r}")


_UNARY_SREPR = {
    "SIN": "sin",
    "COS": "cos",
    "TAN": "tan",
    "ASIN": "asin",
    "ACOS": "acos",
    "ATAN": "atan",
    "EXP": "exp",
    "LOG": "log",
    "ABS": "Abs",
    "CONJ": "conjugate",
    "SIGN": "sign",
}


def _binary_srepr(op: str, lhs: str, rhs: str) -> str:
    if op == "ADD":
        return f"Add({lhs}, {rhs})"
    if op == "SUB":
        return f"Add({lhs}, Mul(Integer(-1), {rhs}))"
    if op == "MUL":
        return f"Mul({lhs}, {rhs})"
    if op == "DIV":
        return f"Mul({lhs}, Pow({rhs}, Integer(-1)))"
    if op == "POW":
        return f"Pow({lhs}, {rhs})"
    if op == "RSUB":
        return _binary_srepr("SUB", rhs, lhs)
    if op == "RDIV":
        return _binary_srepr("DIV", rhs, lhs)
    if op == "RPOW":
        return _binary_srepr("POW", rhs, lhs)
    raise EncodeError(f"ParameterExpression: operation {op} has no historical form")


def _op_name(op: Any) -> str:
    from qiskit.circuit.parameterexpression import OpCode

    for name in dir(OpCode):
        if name.isupper() and getattr(OpCode, name) == op:
            return name
    raise EncodeError(f"ParameterExpression: unknown operation {op!r}")


def _expression_srepr(expression: ParameterExpression) -> str:
    """SymPy ``srepr`` text of ``expression``, from the operation replay qiskit keeps for QPY.

    The replay is a stack program: operands that are None come from the stack; the others are
    pushed (left, then right) before the operation pops what it needs, as QPY's reader does.
    """
    if isinstance(expression, Parameter):
        return f"Symbol({expression.name!r})"
    stack: list[str] = []
    for step in expression._qpy_replay:
        op = _op_name(step.op)
        for operand in (step.lhs, step.rhs):
            if operand is None:
                continue
            if isinstance(operand, ParameterExpression):
                stack.append(_expression_srepr(operand))
            else:
                stack.append(_number_srepr(operand))
        if op in _UNARY_SREPR:
            stack.append(f"{_UNARY_SREPR[op]}({stack.pop()})")
        else:
            rhs, lhs = stack.pop(), stack.pop()
            stack.append(_binary_srepr(op, lhs, rhs))
    if len(stack) != 1:
        raise EncodeError("ParameterExpression: its operation replay is not a single expression")
    return stack[0]


def expression_record(expression: ParameterExpression) -> bytes:
    """The historical binary record of ``expression``."""
    try:
        text = _expression_srepr(expression).encode("utf-8")
    except IndexError:
        raise EncodeError("ParameterExpression: its operation replay is malformed") from None
    symbols = sorted(expression.parameters, key=lambda symbol: symbol.name)
    parts = [struct.pack(_EXPR_HEADER, len(symbols), len(text)), text]
    for symbol in symbols:
        kind, record = _symbol_record(symbol)
        parts.append(struct.pack(_EXPR_SYMBOL, kind, kind, 0))
        parts.append(record)
    return b"".join(parts)


# --- reading ---------------------------------------------------------------------------------


class _Reader:
    """Bounds-checked reads from one binary record."""

    def __init__(self, data: bytes, type_name: str) -> None:
        self.data = data
        self.pos = 0
        self.type_name = type_name

    def bad(self, rule: str) -> DecodeError:
        return DecodeError(f"{self.type_name}: {rule}")

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise self.bad("record is truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def text(self, size: int) -> str:
        try:
            return self.take(size).decode("utf-8")
        except UnicodeDecodeError:
            raise self.bad("a name or expression is not UTF-8 text") from None


class ParameterReader:
    """Reads parameter records; vectors are shared within one document, as in the original.

    A vector's length is charged to ``budget`` before the vector is built (qiskit builds
    every element of a vector as soon as one is taken: about 500 bytes each).
    """

    def __init__(self, limits: DecodeLimits, budget: Budget) -> None:
        self.limits = limits
        self.budget = budget
        self.vectors: dict[uuid.UUID, ParameterVector] = {}

    def parameter(self, data: bytes) -> Parameter:
        reader = _Reader(data, "Parameter")
        result = self._parameter(reader)
        if reader.pos != len(data):
            raise reader.bad("bytes follow the parameter record")
        return result

    def _parameter(self, reader: _Reader) -> Parameter:
        name_size, raw_uuid = reader.unpack(_PARAMETER)
        name = reader.text(name_size)
        return Parameter(name, uuid=uuid.UUID(bytes=raw_uuid))

    def _vector_element(self, reader: _Reader) -> Parameter:
        name_size, size, raw_uuid, index = reader.unpack(_VECTOR_ELEMENT)
        name = reader.text(name_size)
        if index >= size:
            raise reader.bad(f"element {index} of ParameterVector {name!r} of length {size}")
        root = uuid.UUID(int=(uuid.UUID(bytes=raw_uuid).int - index) % (1 << 128))
        vector = self.vectors.get(root)
        if vector is None:
            self.budget.charge_vector(size, name, reader.type_name)
            vector = self.vectors[root] = ParameterVector(name, size, uuid=root)
        elif vector.name != name or len(vector) != size:
            raise reader.bad(f"ParameterVector {name!r} is described twice, differently")
        return vector[index]

    def expression(self, data: bytes) -> ParameterExpression | Number:
        reader = _Reader(data, "ParameterExpression")
        result = self._expression(reader, depth=0)
        if reader.pos != len(data):
            raise reader.bad("bytes follow the expression record")
        return result

    def _expression(self, reader: _Reader, depth: int) -> ParameterExpression | Number:
        if depth > self.limits.max_depth:
            raise reader.bad(f"expressions nest deeper than max_depth {self.limits.max_depth}")
        symbols, text_size = reader.unpack(_EXPR_HEADER)
        if text_size > self.limits.max_expression_chars:
            raise reader.bad(
                f"expression of {text_size} bytes exceeds max_expression_chars "
                f"{self.limits.max_expression_chars}"
            )
        raw = reader.take(text_size)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise reader.bad(
                "expression is not SymPy text (symengine-serialized expressions are refused)"
            ) from None
        if symbols > len(reader.data):
            raise reader.bad(f"declares {symbols} symbols, more than the record holds")
        names: dict[str, Any] = {}
        for _ in range(symbols):
            symbol_kind, value_kind, value_size = reader.unpack(_EXPR_SYMBOL)
            if symbol_kind == _KIND_PARAMETER:
                symbol = self._parameter(reader)
            elif symbol_kind == _KIND_VECTOR:
                symbol = self._vector_element(reader)
            else:
                raise reader.bad(f"symbol kind {symbol_kind!r} is not a parameter")
            names[symbol.name] = self._symbol_value(reader, symbol, value_kind, value_size, depth)
        return _SreprBuilder(names, self.limits, reader.type_name).build(text)

    def _symbol_value(
        self, reader: _Reader, symbol: Parameter, kind: bytes, size: int, depth: int
    ) -> Any:
        payload = reader.take(size)
        if kind in (_KIND_PARAMETER, _KIND_VECTOR):
            return symbol
        if kind == _KIND_INTEGER and size == 8:
            return struct.unpack("!q", payload)[0]
        if kind == _KIND_FLOAT and size == 8:
            return struct.unpack("!d", payload)[0]
        if kind == _KIND_COMPLEX and size == 16:
            return complex(*struct.unpack("!dd", payload))
        if kind == _KIND_EXPRESSION:
            inner = _Reader(payload, reader.type_name)
            value = self._expression(inner, depth + 1)
            if inner.pos != len(payload):
                raise reader.bad("bytes follow a nested expression record")
            return value
        raise reader.bad(f"symbol value kind {kind!r} with {size} bytes is not accepted")


def _apply(name: str, value: Any) -> Any:
    """An elementary function applied to a constant or a parameter expression."""
    if isinstance(value, ParameterExpression):
        method = {
            "sin": "sin",
            "cos": "cos",
            "tan": "tan",
            "asin": "arcsin",
            "acos": "arccos",
            "atan": "arctan",
            "exp": "exp",
            "log": "log",
            "Abs": "abs",
            "conjugate": "conjugate",
            "sign": "sign",
        }[name]
        return getattr(value, method)()
    if name == "Abs":
        return abs(value)
    if name == "conjugate":
        return value.conjugate()
    if name == "sign":
        return value / abs(value) if value else 0
    function: Callable[[Any], Any] = getattr(
        cmath, {"asin": "asin", "acos": "acos", "atan": "atan"}.get(name, name)
    )
    result = function(value)
    if not isinstance(value, complex) and result.imag == 0:
        return result.real
    return result


_FUNCTIONS = frozenset(
    {"sin", "cos", "tan", "asin", "acos", "atan", "exp", "log", "Abs", "conjugate", "sign"}
)
_CONSTANTS = {"I": 1j, "pi": math.pi, "E": math.e}


class _SreprBuilder:
    """Builds an expression from SymPy ``srepr`` text without evaluating it."""

    def __init__(self, names: dict[str, Any], limits: DecodeLimits, type_name: str) -> None:
        self.names = names
        self.limits = limits
        self.type_name = type_name

    def bad(self, rule: str) -> DecodeError:
        return DecodeError(f"{self.type_name}: {rule}")

    def build(self, text: str) -> Any:
        try:
            tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise self.bad(f"expression is not SymPy srepr text ({type(exc).__name__})") from None
        try:
            return self._node(tree.body, 0)
        except (ArithmeticError, ValueError, TypeError) as exc:
            if isinstance(exc, DecodeError):
                raise
            raise self.bad(f"expression cannot be rebuilt ({type(exc).__name__}: {exc})") from None

    def _int(self, node: ast.expr) -> int:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self._int(node.operand)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            if len(str(abs(node.value))) > self.limits.max_integer_digits:
                raise self.bad(
                    f"integer exceeds max_integer_digits {self.limits.max_integer_digits}"
                )
            return node.value
        raise self.bad("Integer() and Rational() take integer literals")

    def _node(self, node: ast.expr, depth: int) -> Any:
        if depth > self.limits.max_depth:
            raise self.bad(f"expression nests deeper than max_depth {self.limits.max_depth}")
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            raise self.bad(f"name {node.id!r} is not part of an expression")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self._node(node.operand, depth + 1)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            raise self.bad(f"{type(node).__name__} is not part of SymPy srepr text")
        name, args = node.func.id, node.args
        if name == "Symbol":
            if (
                len(args) != 1
                or not isinstance(args[0], ast.Constant)
                or not isinstance(args[0].value, str)
            ):
                raise self.bad("Symbol() takes one string")
            if args[0].value not in self.names:
                raise self.bad(f"symbol {args[0].value!r} is not declared in the record")
            return self.names[args[0].value]
        if name == "Integer" and len(args) == 1:
            return self._int(args[0])
        if name == "Rational" and len(args) == 2:
            return self._int(args[0]) / self._int(args[1])
        if name == "Float" and args and isinstance(args[0], ast.Constant):
            literal = args[0].value
            if not isinstance(literal, (str, int, float)) or len(str(literal)) > 64:
                raise self.bad("Float() takes a short number literal")
            return float(literal)
        if node.keywords:
            raise self.bad(f"{name}() takes no keyword arguments")
        values = [self._node(arg, depth + 1) for arg in args]
        if name == "Add" and values:
            result = values[0]
            for value in values[1:]:
                result = result + value
            return result
        if name == "Mul" and values:
            result = values[0]
            for value in values[1:]:
                result = result * value
            return result
        if name == "Pow" and len(values) == 2:
            base, exponent = values
            if not isinstance(base, ParameterExpression) and not isinstance(
                exponent, ParameterExpression
            ):
                return (
                    complex(base) ** complex(exponent)
                    if isinstance(base, complex) or isinstance(exponent, complex)
                    else float(base) ** float(exponent)
                )
            return base**exponent
        if name in _FUNCTIONS and len(values) == 1:
            return _apply(name, values[0])
        raise self.bad(f"{name}() with {len(values)} arguments is not part of an expression")
